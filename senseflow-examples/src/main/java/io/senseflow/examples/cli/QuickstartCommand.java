package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.examples.distill.DistillRun;
import io.senseflow.examples.distill.ShapesRun;
import io.senseflow.examples.distill.ShapesPresets;
import io.senseflow.examples.distill.StudentExport;
import io.senseflow.examples.distill.TeacherFolder;
import io.senseflow.examples.report.ComparisonCache;
import io.senseflow.examples.report.ComparisonReport;
import io.senseflow.examples.report.JsonValues;
import io.senseflow.examples.report.ModelComparison;
import io.senseflow.examples.report.SampleGrid;
import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.image.Image;
import io.senseflow.io.AtomicFiles;
import io.senseflow.json.Json;
import io.senseflow.noise.NoiseKey;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.tensor.Tensor;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code senseflow quickstart}: the whole SenseFlow pipeline on the bundled Shapes teacher, in one command.
 *
 * <pre>
 * OUT/teacher/    the teacher (copied out of the classpath, verified)
 * OUT/run/        the distillation run (checkpoints, losses.csv, curves.png)
 * OUT/student/    the 4-step student, deployable: senseflow generate --model OUT/student ...
 * OUT/grid.png    teacher (50 and 4 Euler steps) vs student (4 steps), same prompts and seeds
 * OUT/report.md   the comparison table (FD-data, FD-T, adherence, NFE, time per image) and the run's facts
 * OUT/metrics.json the same numbers, machine-readable
 * </pre>
 *
 * Interrupted (Ctrl-C), it leaves a checkpoint; the same command continues from it.
 */
@Command(name = "quickstart", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Distil the bundled Shapes teacher into a 4-step student with the senseflow preset, then sample a"
                + " comparison grid, evaluate teacher and student, and write a report.",
                "Run it again after an interruption: it continues from the last checkpoint."},
        footer = {"", "Example:", "  senseflow quickstart --out senseflow-out"})
final class QuickstartCommand implements Callable<Integer> {
    /** The fixed prompts of the grid: two of them are held-out colour-shape pairs (never seen in training). */
    static final List<String> GRID_PROMPTS = List.of(
            "a large red circle in the center on a dark background",
            "a small blue square at the top left on a light background",
            "a large yellow diamond at the bottom right on a dark background",
            "a small green triangle on the left on a light background",
            "a large purple square at the top on a light background",
            "a small orange circle at the bottom on a dark background",
            "a large red triangle on the right on a light background",
            "a large blue circle at the bottom left on a dark background");

    /** The row of the student's initialisation: the teacher's weights sampled by the student's sampler. */
    static final String UNDISTILLED_ROW = "teacher weights, student's 4-step sampler, no CFG (distillation start)";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", defaultValue = "senseflow-out", paramLabel = "DIR",
            description = "output folder (default: ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--teacher", paramLabel = "DIR", description = "a teacher folder instead of the bundled one")
    Path teacher;

    @Option(names = "--classifier", paramLabel = "DIR", description = "the evaluation classifier (default: the bundled"
            + " one; none: skip the evaluation)")
    String classifier;

    @Option(names = "--iterations", paramLabel = "N", description = "distillation iterations (default: the senseflow"
            + " preset's)")
    Long iterations;

    @Option(names = "--eval-samples", defaultValue = "2000", paramLabel = "N",
            description = "images per sampler for seen prompts; FD uses these (default: ${DEFAULT-VALUE})")
    int evalSamples;

    @Option(names = "--held-out", defaultValue = "500", paramLabel = "N",
            description = "images per sampler for held-out prompts (default: ${DEFAULT-VALUE})")
    int heldOut;

    @Option(names = "--eval-seed", defaultValue = "2024", description = "prompts and noise of the evaluation"
            + " (default: ${DEFAULT-VALUE})")
    long evalSeed;

    @Option(names = "--self-fd", description = "also sample the FD-T reference (the teacher at 50 steps) a second"
            + " time with other noise, for its own FD-T: the score of a perfect copy at this sample count (costs as"
            + " much again as the reference's row)")
    boolean selfFd;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "intra-op threads, 0 for the"
            + " engines' default (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        long started = System.nanoTime();
        if (evalSamples < 2 || heldOut < 0) {
            throw InvalidRequestException.of("--eval-samples/--held-out", "at least 2 / at least 0",
                    evalSamples + "/" + heldOut);
        }
        DistillationConfig cfg = ShapesPresets.named("senseflow");
        if (iterations != null) {
            cfg = cfg.toBuilder().iterations(iterations).build();
        }
        OnnxModel judgeGraph = ShapesModels.classifierOption(classifier);
        if (judgeGraph == null && classifier == null) {
            throw new ModelLoadException("the evaluation classifier is not bundled in this build; pass --classifier DIR"
                    + " (a train-classifier output) or --classifier none to skip the evaluation");
        }
        Path outDir = DistillRun.requireWritableFolder(out, "--out");
        TeacherFolder t = TeacherFolder.read(teacherFolder(outDir));
        Path runDir = outDir.resolve("run");
        Optional<Path> latest = Files.isDirectory(runDir.resolve(DistillRun.CHECKPOINTS))
                ? CheckpointStore.at(runDir.resolve(DistillRun.CHECKPOINTS)).latest() : Optional.empty();
        long done = latest.map(p -> CheckpointStore.load(p).iteration()).orElse(0L);
        Path student = outDir.resolve("student");
        double distillSeconds;
        long distillIterations;
        if (done >= cfg.iterations() && Files.isRegularFile(student.resolve("model_index.json"))) {
            say(err, "the distillation in " + runDir + " is complete; evaluating it again");
            distillSeconds = Double.NaN;
            distillIterations = done;
        } else {
            say(err, String.format(Locale.ROOT, "distilling %s into a %d-step student (senseflow preset, %d iterations,"
                    + " batch %d)%s", t.dir(), cfg.anchors().length, cfg.iterations(), cfg.batchSize(),
                    latest.isPresent() ? ", resuming at iteration " + done : ""));
            DistillRun run = DistillRun.prepare(new DistillRun.Request(t, cfg, "senseflow", runDir, student,
                    latest.isPresent(), 250, 0, -1, new ShapesRun.Settings(threads, null, null),
                    "senseflow quickstart --out " + out));
            DistillRun.Result r;
            try (InterruptGuard guard = new InterruptGuard(120)) {
                r = run.run(guard.token(), quiet ? List.of() : List.of(new DistillProgress(err, "distill",
                        cfg.iterations())), null, m -> say(err, m));
            }
            distillSeconds = r.trainingSeconds();
            distillIterations = r.iterations();
        }

        LoadOptions load = LoadOptions.builder().sessionConfig(SessionConfig.builder().intraOpThreads(threads).build())
                .build();
        Map<String, Object> metrics = new LinkedHashMap<>();
        metrics.put("distillation", distillationFacts(cfg, distillIterations, distillSeconds));
        StringBuilder report = new StringBuilder("# SenseFlow quickstart\n\n");
        try (LoadedModel tm = Models.load(t.dir(), load);
             LoadedModel sm = Models.load(student, load)) {
            int cfgFactor = tm.guidanceMode() == GuidanceMode.CFG && tm.defaults().guidanceScale() != 1 ? 2 : 1;
            say(err, "sampling the comparison grid");
            List<Tensor> rows = List.of(gridRow(tm.pipeline(), 50), gridRow(tm.pipeline(), 4),
                    gridRow(sm.pipeline(), sm.defaults().steps()));
            Path gridFile = outDir.resolve("grid.png");
            SampleGrid.of(rows, List.of("teacher, 50 steps", "teacher, 4 Euler steps", "student, 4 steps"),
                    GRID_PROMPTS, 3, "Same prompt and seed down each column").writePng(gridFile);
            report.append(intro(cfg, distillIterations, distillSeconds, t));
            if (judgeGraph != null) {
                try (AttributeJudge judge = AttributeJudge.of(judgeGraph, threads)) {
                    List<ModelComparison.Entry> entries = new ArrayList<>();
                    entries.add(new ModelComparison.Entry("teacher, 50 steps", tm.pipeline(), 50, null, 50 * cfgFactor, t.fingerprint()));
                    entries.add(new ModelComparison.Entry("teacher, 8 Euler steps", tm.pipeline(), 8, null, 8 * cfgFactor, t.fingerprint()));
                    entries.add(new ModelComparison.Entry("teacher, 4 Euler steps", tm.pipeline(), 4, null, 4 * cfgFactor, t.fingerprint()));
                    int steps = sm.defaults().steps();
                    // the student before distillation: the teacher's weights in the student's sampler, no guidance
                    TextToImagePipeline undistilled = TextToImagePipeline.builder().modelName(tm.name())
                            .promptEncoder(tm.promptEncoder()).generator(tm.generator()).decoder(tm.decoder())
                            .scheduler(sm.scheduler()).guidanceMode(GuidanceMode.NONE).defaults(sm.defaults()).build();
                    entries.add(new ModelComparison.Entry(UNDISTILLED_ROW, undistilled, steps, null, steps,
                            t.fingerprint() + " " + sm.scheduler()));
                    entries.add(new ModelComparison.Entry("student, " + steps + " steps", sm.pipeline(), steps, null, steps));
                    say(err, "evaluating " + entries.size() + " samplers on " + evalSamples + " + " + heldOut + " images each");
                    Path cacheFile = outDir.resolve(ShapesModels.EVALUATION_CACHE);
                    ComparisonCache cache = ShapesModels.evaluationCache(cacheFile);
                    ModelComparison.Result result = ModelComparison.run(entries, judge, evalSamples, heldOut, evalSeed, 50,
                            m -> say(err, "  " + m), io.senseflow.pipeline.CancellationToken.none(), cache,
                            ComparisonCache.sha256(judgeGraph.toByteArray()), selfFd);
                    cache.write(cacheFile);
                    metrics.put("comparison", result.toMap());
                    metrics.put("targets", targets(result));
                    report.append("## Teacher vs student\n\n").append(ComparisonReport.table(result)).append('\n');
                    report.append(targetsMarkdown(result));
                    updateProvenance(student, result);
                }
            } else {
                report.append("Evaluation skipped (--classifier none).\n\n");
            }
        }
        report.append("\n## Files\n\n- `grid.png`: teacher (50 and 4 Euler steps) and student (4 steps), same prompts and"
                + " seeds\n- `student/`: the deployable student — `" + Launcher.command() + " generate --model " + student
                + " --prompt \"a large red circle in the center on a dark background\" --out circle.png`\n- `run/`: the"
                + " distillation run (checkpoints, `losses.csv`, `curves.png`)\n- `metrics.json`: these numbers\n");
        metrics.put("wall_seconds_total", (System.nanoTime() - started) / 1e9);
        AtomicFiles.write(outDir.resolve("report.md"), report.toString().getBytes(StandardCharsets.UTF_8));
        AtomicFiles.write(outDir.resolve("metrics.json"), (Json.writePretty(JsonValues.finite(metrics)) + "\n")
                .getBytes(StandardCharsets.UTF_8));
        stdout.printf(Locale.ROOT, "report:   %s%n", outDir.resolve("report.md"));
        stdout.printf(Locale.ROOT, "grid:     %s%n", outDir.resolve("grid.png"));
        stdout.printf(Locale.ROOT, "metrics:  %s%n", outDir.resolve("metrics.json"));
        stdout.printf(Locale.ROOT, "student:  %s%n", student);
        stdout.printf(Locale.ROOT, "run:      %s (curves.png, losses.csv, checkpoints)%n", runDir);
        stdout.printf(Locale.ROOT, "try it:   %s generate --model %s --prompt \"a small green triangle at the top"
                + " right on a dark background\" --out triangle.png%n", Launcher.command(), student);
        stdout.flush();
        return 0;
    }

    /** The teacher folder: --teacher, or the bundled one copied (verified) into OUT/teacher. */
    private Path teacherFolder(Path outDir) {
        if (teacher != null) {
            return teacher;
        }
        if (!ShapesModels.isBundled(ShapesModels.TEACHER)) {
            throw new ModelLoadException("the Shapes teacher is not bundled in this build; pass --teacher DIR (a"
                    + " train-teacher output in the SDK's layout)");
        }
        Path dir = outDir.resolve("teacher");
        return ShapesModels.copyTo(ShapesModels.TEACHER, dir);
    }

    /** One grid row: the fixed prompts, noise keys (0, column), {@code steps} steps; {@code [8, 3, H, W]}. */
    static Tensor gridRow(TextToImagePipeline pipeline, int steps) {
        List<NoiseKey> keys = new ArrayList<>();
        for (int j = 0; j < GRID_PROMPTS.size(); j++) {
            keys.add(new NoiseKey(0, j));
        }
        List<Tensor> images = new ArrayList<>();
        for (Image img : pipeline.generate(GenerationRequest.builder().prompts(GRID_PROMPTS).noiseKeys(keys)
                .numInferenceSteps(steps).build()).images()) {
            images.add(img.toTensor());
        }
        return Tensor.concatBatch(images);
    }

    private static Map<String, Object> distillationFacts(DistillationConfig cfg, long iterations, double seconds) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("preset", "senseflow");
        m.put("iterations", iterations);
        m.put("batch_size", (long) cfg.batchSize());
        m.put("seconds", Double.isNaN(seconds) ? null : seconds);
        m.put("machine", DistillRun.machine());
        m.put("config", Json.parse(cfg.toJson()));
        return m;
    }

    private static String intro(DistillationConfig cfg, long iterations, double seconds, TeacherFolder t) {
        return String.format(Locale.ROOT, "The bundled Shapes teacher (`%s`) distilled into a %d-step student with the"
                        + " `senseflow` preset (DMD + IDA + ISG + GAN with heads on the fake score's features): %d"
                        + " iterations of batch %d, %s of distillation on %s.%n%n![grid](grid.png)%n%n",
                t.dir().getFileName(), cfg.anchors().length, iterations, cfg.batchSize(),
                Double.isNaN(seconds) ? "(an earlier run's)" : String.format(Locale.ROOT, "%.0f s", seconds),
                DistillRun.machine());
    }

    private static Map<String, Object> targets(ModelComparison.Result r) {
        ModelComparison.Row t50 = r.rows().get(0);
        ModelComparison.Row t8 = r.rows().get(1);
        ModelComparison.Row t4 = r.rows().get(2);
        ModelComparison.Row s = r.rows().get(r.rows().size() - 1);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("fd_data_over_teacher50", s.fdData() / t50.fdData());
        m.put("adherence_over_teacher50", s.seen().all() / t50.seen().all());
        m.put("beats_teacher4_fd_data", s.fdData() < t4.fdData());
        m.put("beats_teacher4_fd_t", s.fdTeacher() < t4.fdTeacher());
        m.put("beats_teacher8_fd_data", s.fdData() < t8.fdData());
        m.put("beats_teacher8_fd_t", s.fdTeacher() < t8.fdTeacher());
        return m;
    }

    private static String targetsMarkdown(ModelComparison.Result r) {
        Map<String, Object> t = targets(r);
        return String.format(Locale.ROOT, "Targets (measured, not enforced): student FD-data / teacher-50 FD-data = %.2f"
                        + " (target ≤ 1.25); student adherence / teacher-50 adherence (seen, all five) = %.2f (target ≥"
                        + " 0.95); better than the teacher's 4-step Euler on FD-data: %s, on FD-T: %s; better than its"
                        + " 8-step Euler on FD-data: %s, on FD-T: %s.%n", (Double) t.get("fd_data_over_teacher50"),
                (Double) t.get("adherence_over_teacher50"), yes(t.get("beats_teacher4_fd_data")),
                yes(t.get("beats_teacher4_fd_t")), yes(t.get("beats_teacher8_fd_data")), yes(t.get("beats_teacher8_fd_t")));
    }

    private static String yes(Object b) {
        return Boolean.TRUE.equals(b) ? "yes" : "no";
    }

    private static void updateProvenance(Path student, ModelComparison.Result r) {
        Path file = student.resolve(StudentExport.PROVENANCE);
        Map<String, Object> p = new LinkedHashMap<>();
        try {
            p.putAll(Json.parseObject(Files.readString(file, StandardCharsets.UTF_8)).asMap());
        } catch (java.io.IOException e) {
            throw new io.senseflow.CheckpointException("could not read " + file + ": " + e, e);
        }
        p.put("metrics_at_end", JsonValues.finite(r.toMap()));
        StudentExport.writeProvenance(student, p);
    }

    private static void say(PrintWriter err, String message) {
        err.println("senseflow: " + message);
        err.flush();
    }
}
