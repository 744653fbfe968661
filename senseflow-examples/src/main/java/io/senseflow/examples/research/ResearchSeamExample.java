package io.senseflow.examples.research;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationObjective;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tf.run.DistillationRun;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The researcher's seam, shown: your own generator term ({@link TeacherOdeRegression}) and your own fake-score
 * noise-level distribution ({@link KumaraswamyTimesteps}) plugged into a {@link DistillationRun} built from a model
 * folder, with no engine code. docs/distillation.md ("Your own objective") walks through it and gives its measured
 * effect on Shapes.
 *
 * <pre>
 * java ... io.senseflow.examples.research.ResearchSeamExample TEACHER_DIR PROMPTS.txt RUN_DIR [ITERATIONS]
 * </pre>
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once (each run is single-threaded).
 */
public final class ResearchSeamExample {
    /** The example's ODE steps for the teacher pairs. */
    public static final int ODE_STEPS = 4;
    /** The example's weight of the ODE regression next to the recipe's terms. */
    public static final double WEIGHT = 0.5;
    /** The example's fake-score levels: Kumaraswamy(2, 1.5), leaning to the middle and high noise, 1 % margins. */
    public static final KumaraswamyTimesteps FAKE_SCORE_LEVELS = new KumaraswamyTimesteps(2, 1.5, 0.01);

    private ResearchSeamExample() {
    }

    /**
     * The recipe's own generator terms plus the teacher-ODE regression, its teacher guided as the DMD term's real
     * score is.
     *
     * @param cfg the run's config
     * @param weight the regression's weight
     * @return the terms the generator update sums
     */
    public static List<DistillationObjective> withOdeRegression(DistillationConfig cfg, double weight) {
        List<DistillationObjective> terms = new ArrayList<>(cfg.objectives());
        terms.add(DistillationObjective.weighted(new TeacherOdeRegression(ODE_STEPS, cfg.dmd().guidance()), weight));
        return terms;
    }

    /**
     * Plugs both into a run's builder (everything else about the run comes from the folder, as usual).
     *
     * @param run a {@link DistillationRun} builder
     * @param fakeScoreLevels the fake score's noise levels (e.g. {@link #FAKE_SCORE_LEVELS})
     * @return {@code run}
     */
    public static DistillationRun.Builder plugIn(DistillationRun.Builder run, TimestepSampler fakeScoreLevels) {
        return run.objectives(cfg -> withOdeRegression(cfg, WEIGHT)).fakeScoreTimesteps(fakeScoreLevels);
    }

    /**
     * Distils a teacher folder with the example's plug-ins and prints each iteration's losses.
     *
     * @param args teacher folder, prompt file, run folder, optional iterations (default 30)
     */
    public static void main(String[] args) {
        if (args.length < 3) {
            System.err.println("usage: ResearchSeamExample TEACHER_DIR PROMPTS.txt RUN_DIR [ITERATIONS]");
            System.exit(2);
        }
        long iterations = args.length > 3 ? Long.parseLong(args[3]) : 30;
        DistillationRun.Builder b = DistillationRun.builder(Path.of(args[0])).prompts(Path.of(args[1]))
                .folder(Path.of(args[2])).iterations(iterations)
                .listener((IterationMetrics m) -> System.out.println(m.iteration() + " " + m.losses()));
        try (DistillationRun run = plugIn(b, FAKE_SCORE_LEVELS).build()) {
            run.run(CancellationToken.none());
        }
    }
}
