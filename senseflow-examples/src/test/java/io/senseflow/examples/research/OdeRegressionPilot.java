package io.senseflow.examples.research;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationObjective;
import io.senseflow.distill.TeacherGuidance;
import io.senseflow.examples.distill.PeriodicEvaluation;
import io.senseflow.examples.distill.ShapesPresets;
import io.senseflow.examples.distill.ShapesRun;
import io.senseflow.examples.distill.TeacherFolder;
import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.io.AtomicFiles;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tf.run.DistillationRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Issue 15's teacher-ODE pilot (docs/results.md): the bundled Shapes teacher distilled with the {@code senseflow}
 * preset plus {@link TeacherOdeRegression} whose target is the CFG-{@code w} teacher's own ODE solution from the
 * generator's input, integrated accurately ({@code steps} Euler steps), at a given weight. Validation only: the
 * student is judged every {@code every} iterations on {@code samples} seen prompts and noise of seed 77 (never the final
 * evaluation's seed 2024), the same set-up as the long run of the constant-rate preset, one intra-op thread.
 * A measurement, not a test: run it by hand with the test classpath,
 *
 * <pre>
 * java -cp ... io.senseflow.examples.research.OdeRegressionPilot OUT.csv ITERATIONS STEPS GUIDANCE WEIGHT [EVERY] [SAMPLES]
 * </pre>
 *
 * <p>Writes {@code iteration,adherence_seen,fd_data,fd_teacher,seconds} after every evaluation (atomically).
 */
public final class OdeRegressionPilot {
    private OdeRegressionPilot() {
    }

    /**
     * @param args output CSV, iterations, teacher ODE steps, teacher guidance, weight, evaluation interval (200),
     *             evaluation samples (128)
     * @throws IOException if the scratch folder cannot be made
     */
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]).toAbsolutePath();
        long iterations = Long.parseLong(args[1]);
        int steps = Integer.parseInt(args[2]);
        double guidance = Double.parseDouble(args[3]);
        double weight = Double.parseDouble(args[4]);
        long every = args.length > 5 ? Long.parseLong(args[5]) : 200;
        int samples = args.length > 6 ? Integer.parseInt(args[6]) : 128;
        Path scratch = Files.createTempDirectory("ode-pilot");
        TeacherFolder teacher = TeacherFolder.read(ShapesModels.copyTo(ShapesModels.TEACHER, scratch.resolve("teacher")));
        DistillationConfig cfg = ShapesPresets.named("senseflow").toBuilder().iterations(iterations).build();
        List<DistillationObjective> terms = new ArrayList<>(cfg.objectives());
        terms.add(DistillationObjective.weighted(new TeacherOdeRegression(steps,
                new TeacherGuidance.Cfg(guidance, guidance)), weight));
        StringBuilder csv = new StringBuilder("iteration,adherence_seen,fd_data,fd_teacher,seconds\n");
        Runnable[] record = new Runnable[1];
        long[] at = new long[1];
        try (AttributeJudge judge = AttributeJudge.of(ShapesModels.classifier(), 0);
             DistillationRun s = ShapesRun.builder(teacher, cfg, ShapesRun.Settings.defaults().withThreads(1)
                     .withTrackEvery(0), scratch.resolve("run")).checkpointEvery(iterations).objectives(c -> terms)
                     .every(every, (r, done, m) -> {
                         at[0] = done;
                         record[0].run();
                     }).build()) {
            PeriodicEvaluation eval = new PeriodicEvaluation(judge, samples, 77);
            long t0 = System.nanoTime();
            record[0] = () -> {
                Map<String, Double> m = eval.evaluate(s, at[0]);
                String row = String.format(Locale.ROOT, "%d,%s,%s,%s,%.0f", at[0], m.get("adherence_seen"),
                        m.get("fd_data"), m.get("fd_teacher"), (System.nanoTime() - t0) / 1e9);
                System.out.println(row);
                csv.append(row).append('\n');
                AtomicFiles.write(out, csv.toString().getBytes(StandardCharsets.UTF_8));
            };
            record[0].run();
            s.run(CancellationToken.none());
        }
    }
}
