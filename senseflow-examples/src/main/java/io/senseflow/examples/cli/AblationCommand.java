package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.examples.distill.DistillRun;
import io.senseflow.examples.distill.ShapesRun;
import io.senseflow.examples.distill.PeriodicEvaluation;
import io.senseflow.examples.distill.RunHistory;
import io.senseflow.examples.distill.ShapesPresets;
import io.senseflow.examples.distill.TeacherFolder;
import io.senseflow.examples.report.ComparisonCache;
import io.senseflow.examples.report.JsonValues;
import io.senseflow.examples.report.LinePlot;
import io.senseflow.examples.report.ModelComparison;
import io.senseflow.examples.report.SampleGrid;
import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.io.AtomicFiles;
import io.senseflow.json.Json;
import io.senseflow.noise.NoiseKey;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
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
 * {@code senseflow ablation}: the paper's ablation on Shapes. Every preset distilled at the same budget with several
 * seeds (each run resumable, finished runs reused), then every student and the teacher's Euler baselines evaluated on
 * the same prompts and noise, one evaluation seed per distillation seed: FD-data, FD-T, adherence (seen, held-out),
 * NFE, wall time per image, as mean and half-range over the seeds, with the real-vs-real floor; a sample grid per
 * row; the FD-T curves of every run. Writes {@code ablation.md}, {@code ablation.json}, {@code grids/*.png},
 * {@code curves.png} into {@code --out}.
 */
@Command(name = "ablation", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Distil with every preset at the same budget over several seeds, evaluate every student and the"
                + " teacher's Euler baselines, and write the ablation table, sample grids and curves."},
        footer = {"", "Example:", "  senseflow ablation --out ablation --seeds 2"})
final class AblationCommand implements Callable<Integer> {
    static final List<String> PRESETS = List.of("vanilla-dmd", "dmd+ida", "dmd+ida+isg", "senseflow");
    static final long EVAL_SEED = 2024;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder")
    Path out;

    @Option(names = "--teacher", paramLabel = "DIR", description = "a teacher folder instead of the bundled one")
    Path teacher;

    @Option(names = "--classifier", paramLabel = "DIR", description = "the evaluation classifier (default: bundled)")
    String classifier;

    @Option(names = "--presets", split = ",", paramLabel = "a,b", description = "presets to compare (default: all four)")
    List<String> presets = PRESETS;

    @Option(names = "--seeds", defaultValue = "2", paramLabel = "N", description = "distillation seeds per preset, each"
            + " evaluated with its own evaluation seed (default: ${DEFAULT-VALUE})")
    int seeds;

    @Option(names = "--same-eval-seed", description = "evaluate every distillation seed on the same prompts and noise"
            + " (a paired comparison: the spread is then the distillation seed's alone, and the teacher's rows are"
            + " measured once); default: one evaluation seed per distillation seed")
    boolean sameEvalSeed;

    @Option(names = "--iterations", paramLabel = "N", description = "the budget (default: the presets')")
    Long iterations;

    @Option(names = "--teacher-steps", split = ",", defaultValue = "50,25,4", paramLabel = "a,b",
            description = "the teacher's Euler baselines; the first is the FD-T reference (default: ${DEFAULT-VALUE})")
    List<Integer> teacherSteps;

    @Option(names = "--eval-samples", defaultValue = "2000", paramLabel = "N", description = "images per row and seed"
            + " for seen prompts (default: ${DEFAULT-VALUE})")
    int evalSamples;

    @Option(names = "--held-out", defaultValue = "500", paramLabel = "N", description = "images per row and seed for"
            + " held-out prompts (default: ${DEFAULT-VALUE})")
    int heldOut;

    @Option(names = "--curve-every", defaultValue = "250", paramLabel = "N", description = "periodic evaluation of"
            + " each run, for its curves (default: ${DEFAULT-VALUE})")
    long curveEvery;

    @Option(names = "--curve-samples", defaultValue = "256", paramLabel = "N", description = "images per periodic"
            + " evaluation (default: ${DEFAULT-VALUE})")
    int curveSamples;

    @Option(names = "--self-fd", description = "also sample the FD-T reference (the teacher at 50 steps) a second"
            + " time with other noise, for its own FD-T: the score of a perfect copy at this sample count (costs as"
            + " much again as the reference's row)")
    boolean selfFd;

    @Option(names = "--threads", defaultValue = "0", paramLabel = "N", description = "intra-op threads (default:"
            + " ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--quiet", description = "no progress bar")
    boolean quiet;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        if (seeds < 1 || teacherSteps.isEmpty() || presets.isEmpty()) {
            throw InvalidRequestException.of("--seeds/--teacher-steps/--presets", "at least one each",
                    seeds + "/" + teacherSteps + "/" + presets);
        }
        List<DistillationConfig> configs = new ArrayList<>();
        for (String p : presets) {
            DistillationConfig c = ShapesPresets.named(p);
            configs.add(iterations == null ? c : c.toBuilder().iterations(iterations).build());
        }
        OnnxModel judgeGraph = ShapesModels.classifierOption(classifier);
        if (judgeGraph == null) {
            throw new ModelLoadException("the ablation needs the evaluation classifier: none is bundled in this build;"
                    + " pass --classifier DIR");
        }
        Path outDir = DistillRun.requireWritableFolder(out, "--out");
        Path teacherDir = teacher != null ? teacher : ShapesModels.copyTo(ShapesModels.TEACHER, outDir.resolve("teacher"));
        TeacherFolder t = TeacherFolder.read(teacherDir);
        Map<String, List<Double>> trainingSeconds = new LinkedHashMap<>();
        try (AttributeJudge judge = AttributeJudge.of(judgeGraph, threads)) {
            // one periodic evaluation for every run: same teacher, prompts and noise, so its 50-step images are made once
            PeriodicEvaluation curves = new PeriodicEvaluation(judge, curveSamples, EVAL_SEED);
            for (int k = 0; k < seeds; k++) {
                for (int i = 0; i < presets.size(); i++) {
                    DistillationConfig c = configs.get(i).toBuilder().seed(k).build();
                    double s = distill(err, t, c, presets.get(i), runDir(outDir, presets.get(i), k), curves);
                    trainingSeconds.computeIfAbsent(presets.get(i), x -> new ArrayList<>()).add(s);
                }
            }
            evaluate(err, outDir, t, judge, ComparisonCache.sha256(judgeGraph.toByteArray()), configs, trainingSeconds);
        }
        spec.commandLine().getOut().printf(Locale.ROOT, "ablation: %s%ngrids:    %s%ncurves:   %s%n",
                outDir.resolve("ablation.md"), outDir.resolve("grids"), outDir.resolve("curves.png"));
        spec.commandLine().getOut().flush();
        return 0;
    }

    static Path runDir(Path outDir, String preset, int seed) {
        return outDir.resolve("runs").resolve(preset.replace('+', '_') + "-seed" + seed);
    }

    /** Distils one run, or continues it, or reuses it when complete; returns its distillation seconds. */
    private double distill(PrintWriter err, TeacherFolder t, DistillationConfig c, String preset, Path dir,
                           PeriodicEvaluation curves) {
        Path ckpts = dir.resolve(DistillRun.CHECKPOINTS);
        Optional<Path> latest = Files.isDirectory(ckpts) ? CheckpointStore.at(ckpts).latest() : Optional.empty();
        long done = latest.map(p -> CheckpointStore.load(p).iteration()).orElse(0L);
        if (done >= c.iterations() && Files.isRegularFile(dir.resolve(DistillRun.STUDENT).resolve("model_index.json"))) {
            say(err, preset + " seed " + c.seed() + ": complete in " + dir);
            return RunHistory.restore(read(dir.resolve("losses.csv")), null, Long.MAX_VALUE).losses().stream()
                    .mapToDouble(r -> r.values().getOrDefault("ms", 0.0)).sum() / 1e3;
        }
        say(err, preset + " seed " + c.seed() + ": distilling into " + dir + (latest.isPresent() ? " (resuming at "
                + done + ")" : ""));
        DistillRun run = DistillRun.prepare(new DistillRun.Request(t, c, preset, dir, null, latest.isPresent(), 250,
                curveEvery, -1, new ShapesRun.Settings(threads, null, null), "senseflow ablation"));
        try (InterruptGuard guard = new InterruptGuard(120)) {
            return run.run(guard.token(), quiet ? List.of() : List.of(new DistillProgress(err, preset + " s" + c.seed(),
                    c.iterations())), curves, m -> say(err, m))
                    .trainingSeconds();
        }
    }

    private void evaluate(PrintWriter err, Path outDir, TeacherFolder t, AttributeJudge judge, String judgeFingerprint,
                          List<DistillationConfig> configs, Map<String, List<Double>> trainingSeconds) throws IOException {
        LoadOptions load = LoadOptions.builder().sessionConfig(SessionConfig.builder().intraOpThreads(threads).build())
                .build();
        List<ModelComparison.Result> results = new ArrayList<>();
        Files.createDirectories(outDir.resolve("grids"));
        Path cacheFile = outDir.resolve(ShapesModels.EVALUATION_CACHE);
        ComparisonCache cache = ShapesModels.evaluationCache(cacheFile);
        try (LoadedModel tm = Models.load(t.dir(), load)) {
            int cfgFactor = tm.guidanceMode() == GuidanceMode.CFG && tm.defaults().guidanceScale() != 1 ? 2 : 1;
            for (int k = 0; k < seeds; k++) {
                List<LoadedModel> students = new ArrayList<>();
                try {
                    List<ModelComparison.Entry> entries = new ArrayList<>();
                    for (int steps : teacherSteps) {
                        entries.add(new ModelComparison.Entry(teacherRow(steps), tm.pipeline(), steps, null,
                                steps * cfgFactor, t.fingerprint()));
                    }
                    for (String p : presets) {
                        LoadedModel s = Models.load(runDir(outDir, p, k).resolve(DistillRun.STUDENT), load);
                        students.add(s);
                        int steps = s.defaults().steps();
                        entries.add(new ModelComparison.Entry(p, s.pipeline(), steps, null, steps));
                    }
                    long evalSeed = sameEvalSeed ? EVAL_SEED : EVAL_SEED + k;
                    say(err, "evaluating " + entries.size() + " rows, distillation seed " + k + ", evaluation seed "
                            + evalSeed);
                    results.add(ModelComparison.run(entries, judge, evalSamples, heldOut, evalSeed, 50,
                            m -> say(err, "  " + m), CancellationToken.none(), cache, judgeFingerprint, selfFd));
                    cache.write(cacheFile);
                    if (k == 0) {
                        for (ModelComparison.Entry e : entries) {
                            grid(e).writePng(outDir.resolve("grids").resolve(fileName(e.name()) + ".png"));
                        }
                    }
                } finally {
                    for (LoadedModel s : students) {
                        s.close();
                    }
                }
            }
        }
        AtomicFiles.write(outDir.resolve("ablation.md"), markdown(results, configs, trainingSeconds)
                .getBytes(StandardCharsets.UTF_8));
        Map<String, Object> json = new LinkedHashMap<>();
        List<Object> per = new ArrayList<>();
        results.forEach(r -> per.add(r.toMap()));
        json.put("per_evaluation_seed", per);
        json.put("distillation_seconds", trainingSeconds);
        json.put("configs", configs.stream().map(c -> Json.parse(c.toJson())).toList());
        json.put("machine", DistillRun.machine());
        AtomicFiles.write(outDir.resolve("ablation.json"), (Json.writePretty(JsonValues.finite(json)) + "\n")
                .getBytes(StandardCharsets.UTF_8));
        curves(outDir).writePng(outDir.resolve("curves.png"));
    }

    static String teacherRow(int steps) {
        return "teacher, " + steps + (steps == 50 ? " steps" : " Euler steps");
    }

    static String fileName(String row) {
        return row.replace(", ", "-").replace(' ', '-').replace('+', '_');
    }

    private static io.senseflow.image.Image grid(ModelComparison.Entry e) {
        Tensor row = QuickstartCommand.gridRow(e.pipeline(), e.steps());
        List<String> cols = new ArrayList<>();
        for (int j = 0; j < QuickstartCommand.GRID_PROMPTS.size(); j++) {
            cols.add(String.valueOf(j + 1));
        }
        return SampleGrid.of(List.of(row), List.of(e.name()), cols, 2, null);
    }

    /** FD-T of every run's periodic evaluations, and the senseflow runs' generator losses. */
    private LinePlot curves(Path outDir) {
        List<LinePlot.Series> fdT = new ArrayList<>();
        List<LinePlot.Series> adherence = new ArrayList<>();
        List<LinePlot.Series> dmd = new ArrayList<>();
        for (String p : presets) {
            for (int k = 0; k < seeds; k++) {
                Path dir = runDir(outDir, p, k);
                String eval = read(dir.resolve("eval.csv"));
                String losses = read(dir.resolve("losses.csv"));
                RunHistory h = RunHistory.restore(losses, eval, Long.MAX_VALUE - 1);
                String name = p + " s" + k;
                fdT.add(series(name, h.evaluations(), "fd_teacher"));
                adherence.add(series(name, h.evaluations(), "adherence_seen"));
                List<RunHistory.Row> g = h.losses().stream().filter(r -> r.values().containsKey("dmd")).toList();
                LinePlot.Series raw = series(name, g, "dmd");
                dmd.add(new LinePlot.Series(name, raw.x(), LinePlot.smooth(raw.y(), 50)));
            }
        }
        return new LinePlot()
                .add(new LinePlot.Panel("FD-T of the student during distillation (" + curveSamples + " images)",
                        "iteration", "FD-T", fdT))
                .add(new LinePlot.Panel("All-attribute adherence during distillation", "iteration", "adherence",
                        adherence))
                .add(new LinePlot.Panel("DMD loss (moving average over 50 generator steps)", "iteration", "loss", dmd));
    }

    private static LinePlot.Series series(String name, List<RunHistory.Row> rows, String key) {
        List<RunHistory.Row> having = rows.stream().filter(r -> r.values().containsKey(key)).toList();
        double[] x = new double[having.size()];
        double[] y = new double[having.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = having.get(i).iteration();
            y[i] = having.get(i).values().get(key);
        }
        return new LinePlot.Series(name, x, y);
    }

    private static String read(Path file) {
        try {
            return Files.isRegularFile(file) ? Files.readString(file, StandardCharsets.UTF_8) : null;
        } catch (IOException e) {
            throw new io.senseflow.CheckpointException("could not read " + file + ": " + e, e);
        }
    }

    private String markdown(List<ModelComparison.Result> results, List<DistillationConfig> configs,
                            Map<String, List<Double>> seconds) {
        StringBuilder b = new StringBuilder();
        ModelComparison.Result first = results.get(0);
        if (sameEvalSeed) {
            b.append(String.format(Locale.ROOT, "Each value: mean ± half the range over %d distillation seed(s) (0 to"
                    + " %d), every student evaluated on the same prompts and noise (evaluation seed %d: a paired"
                    + " comparison, so the spread is the distillation seed's alone; the teacher's rows do not vary)."
                    + " FD on %d images per row, adherence also on %d held-out images.%n%n", results.size(),
                    results.size() - 1, first.seed(), first.seenCount(), first.heldOutCount()));
        } else {
            b.append(String.format(Locale.ROOT, "Each value: mean ± half the range over %d evaluation seed(s) (%s);"
                    + " students: one distillation seed per evaluation seed. FD on %d images per row and seed, adherence"
                    + " also on %d held-out images.%n%n", results.size(), seedsList(results), first.seenCount(),
                    first.heldOutCount()));
        }
        b.append("| row | NFE | FD-data | FD-T | real-vs-real floor | adherence, seen | adherence, held-out | shape, seen |"
                + " ms / image | distillation (s) |\n");
        b.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (ModelComparison.Row row : first.rows()) {
            List<ModelComparison.Row> same = results.stream().map(r -> r.row(row.name())).toList();
            List<Double> secs = seconds.get(row.name());
            b.append(String.format(Locale.ROOT, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |%n", row.name(),
                    row.nfe(), ms(same, ModelComparison.Row::fdData, 3, 1),
                    ms(same, ModelComparison.Row::fdTeacher, 3, 1),
                    ms(results.stream().map(r -> r.floor()).toList(), 3, 1),
                    ms(same, r -> r.seen().all(), 1, 100), ms(same, r -> r.heldOut().all(), 1, 100),
                    ms(same, r -> r.seen().of("shape"), 1, 100), ms(same, ModelComparison.Row::secondsPerImage, 2, 1000),
                    secs == null ? "—" : ms(secs, 0, 1)));
        }
        b.append(String.format(Locale.ROOT, "%nBudget: %d iterations of batch %d per run (%s).%n",
                configs.get(0).iterations(), configs.get(0).batchSize(), DistillRun.machine()));
        return b.toString();
    }

    private static String seedsList(List<ModelComparison.Result> results) {
        return String.join(", ", results.stream().map(r -> Long.toString(r.seed())).toList());
    }

    private static String ms(List<ModelComparison.Row> rows, java.util.function.ToDoubleFunction<ModelComparison.Row> f,
                             int digits, double scale) {
        return ms(rows.stream().map(r -> f.applyAsDouble(r)).toList(), digits, scale);
    }

    private static String ms(List<Double> values, int digits, double scale) {
        if (values.stream().anyMatch(v -> Double.isNaN(v))) {
            return "—";
        }
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        double sum = 0;
        for (double v : values) {
            lo = Math.min(lo, v * scale);
            hi = Math.max(hi, v * scale);
            sum += v * scale;
        }
        String fmt = "%." + digits + "f";
        String mean = String.format(Locale.ROOT, fmt, sum / values.size());
        return values.size() < 2 ? mean : mean + " ± " + String.format(Locale.ROOT, fmt, (hi - lo) / 2);
    }

    private static void say(PrintWriter err, String message) {
        err.println("senseflow: " + message);
        err.flush();
    }
}
