package io.senseflow.examples.research;

import io.senseflow.distill.DistillationConfig;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The measurement behind docs/distillation.md "Your own objective": the bundled Shapes teacher distilled with the
 * {@code senseflow} preset through the Shapes path ({@link ShapesRun} on a {@link DistillationRun}), once as it is and once per plug-in
 * arm, each student judged by {@link PeriodicEvaluation} (FD-T against the teacher's 50-step images of the same prompts
 * and noise, FD-data against real renders, all-attribute adherence on seen prompts, by the bundled classifier).
 * A measurement, not a test (minutes per arm): run it by hand, with the test classpath,
 *
 * <pre>
 * java -cp ... io.senseflow.examples.research.ResearchSeamShapesExperiment OUT.md [ITERATIONS] [SAMPLES] [ARMS]
 * </pre>
 *
 * <p>{@code ARMS} is a comma list of {@code baseline}, {@code ode}, {@code kumaraswamy}, {@code ode+kumaraswamy}
 * (default: all four). The table is rewritten after every arm.
 */
public final class ResearchSeamShapesExperiment {
    private ResearchSeamShapesExperiment() {
    }

    static Consumer<DistillationRun.Builder> arm(String name) {
        return switch (name) {
            case "baseline" -> b -> { };
            case "ode" -> b -> b.objectives(c -> ResearchSeamExample.withOdeRegression(c, ResearchSeamExample.WEIGHT));
            case "kumaraswamy" -> b -> b.fakeScoreTimesteps(ResearchSeamExample.FAKE_SCORE_LEVELS);
            case "ode+kumaraswamy" -> b -> b.objectives(c -> ResearchSeamExample.withOdeRegression(c,
                    ResearchSeamExample.WEIGHT)).fakeScoreTimesteps(ResearchSeamExample.FAKE_SCORE_LEVELS);
            default -> throw new IllegalArgumentException("unknown arm " + name);
        };
    }

    /**
     * @param args output file, iterations (300), evaluation samples (500), arms
     * @throws IOException if the scratch folder cannot be made
     */
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]).toAbsolutePath();
        long iterations = args.length > 1 ? Long.parseLong(args[1]) : 300;
        int samples = args.length > 2 ? Integer.parseInt(args[2]) : 500;
        List<String> arms = List.of((args.length > 3 ? args[3] : "baseline,ode,kumaraswamy,ode+kumaraswamy")
                .split(","));
        Path scratch = Files.createTempDirectory("research-seam");
        TeacherFolder teacher = TeacherFolder.read(ShapesModels.copyTo(ShapesModels.TEACHER, scratch.resolve("teacher")));
        DistillationConfig cfg = ShapesPresets.named("senseflow").toBuilder().iterations(iterations).build();
        Map<String, String> rows = new LinkedHashMap<>();
        try (AttributeJudge judge = AttributeJudge.of(ShapesModels.classifier(), 0)) {
            PeriodicEvaluation eval = new PeriodicEvaluation(judge, samples, 2024);
            for (String a : arms) {
                long t0 = System.nanoTime();
                Map<String, Double> m;
                double trainSeconds;
                long[] t1 = new long[1];
                DistillationRun.Builder b = ShapesRun.builder(teacher, cfg, ShapesRun.Settings.defaults()
                        .withTrackEvery(0), scratch.resolve("run-" + a.replace('+', '_'))).checkpointEvery(iterations)
                        .listener(it -> {
                            if ((it.iteration() + 1) % 25 == 0) {
                                System.out.printf(Locale.ROOT, "%s: iteration %d, %.0f s%n", a, it.iteration() + 1,
                                        (System.nanoTime() - t1[0]) / 1e9);
                            }
                        });
                arm(a).accept(b);
                try (DistillationRun s = b.build()) {
                    t1[0] = System.nanoTime();
                    s.run(CancellationToken.none());
                    trainSeconds = (System.nanoTime() - t1[0]) / 1e9;
                    m = eval.evaluate(s, iterations);
                }
                String row = String.format(Locale.ROOT, "| %s | %.2f | %.2f | %.1f %% | %.0f | %.0f |", a,
                        m.get("fd_teacher"), m.get("fd_data"), 100 * m.get("adherence_seen"), trainSeconds,
                        (System.nanoTime() - t0) / 1e9);
                rows.put(a, row);
                System.out.println(row);
                StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "senseflow preset, %d iterations of"
                        + " batch %d, seed %d; evaluation: %d seen prompts, seed 2024%n%n", iterations, cfg.batchSize(),
                        cfg.seed(), samples));
                sb.append("| arm | FD-T | FD-data | adherence (seen) | distillation (s) | arm total (s) |\n");
                sb.append("| --- | --- | --- | --- | --- | --- |\n");
                rows.values().forEach(r -> sb.append(r).append('\n'));
                AtomicFiles.write(out, sb.toString().getBytes(StandardCharsets.UTF_8));
            }
        }
    }
}
