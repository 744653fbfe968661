package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.examples.shapes.ImageGrid;
import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.examples.shapes.eval.MetricsReport;
import io.senseflow.examples.shapes.eval.ShapesEvaluation;
import io.senseflow.io.AtomicFiles;
import io.senseflow.json.Json;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code senseflow eval}: judge a Shapes model (adherence, FD-data, floor, FD-T) and write metrics.json + metrics.md. */
@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Evaluate a Shapes text-to-image model folder with the attribute classifier: prompt adherence "
                + "(per attribute and all-attribute, seen and held-out combinations), FD-data against real renders with the "
                + "real-vs-real floor at the same count, and FD-T against a teacher's images for the same prompts and noise.",
                "Writes metrics.json, metrics.md and samples.png into --out."},
        footer = {"", "Examples:",
                "  senseflow eval --model bundled --out eval-teacher",
                "  senseflow eval --model student/ --teacher bundled --steps 4 --out eval-student"})
final class EvalCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "the model folder to evaluate, or 'bundled' for the bundled Shapes teacher")
    String model;

    @Option(names = "--teacher", paramLabel = "DIR",
            description = "reference for FD-T: a model folder or 'bundled' (default: none)")
    String teacher;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder")
    Path out;

    @Option(names = "--count", defaultValue = "2000",
            description = "images for seen prompts; FD statistics use these (default: ${DEFAULT-VALUE})")
    int count;

    @Option(names = "--held-out", defaultValue = "500", description = "images for held-out prompts (default: ${DEFAULT-VALUE})")
    int heldOut;

    @Option(names = "--steps", paramLabel = "N", description = "sampling steps (default: the model's)")
    Integer steps;

    @Option(names = "--guidance", paramLabel = "W", description = "guidance scale (default: the model's)")
    Double guidance;

    @Option(names = "--teacher-steps", defaultValue = "50", description = "the reference's steps for FD-T (default: ${DEFAULT-VALUE})")
    int teacherSteps;

    @Option(names = "--seed", defaultValue = "2024", description = "prompts and noise seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--classifier", paramLabel = "DIR", description = "the judge (default: the bundled classifier)")
    String classifier;

    @Option(names = "--threads", defaultValue = "0", description = "ONNX Runtime threads, 0 for its choice (default: ${DEFAULT-VALUE})")
    int threads;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        OnnxModel judgeModel = ShapesModels.classifierOption(classifier);
        if (judgeModel == null) {
            throw InvalidRequestException.of("--classifier", "a classifier folder (none is bundled in this build)",
                    classifier == null ? "nothing" : classifier);
        }
        ShapesEvaluation.Settings settings;
        try {
            settings = new ShapesEvaluation.Settings(count, heldOut, steps, guidance, seed, 128);
        } catch (InvalidRequestException e) {
            throw new InvalidRequestException("--count/--held-out: " + e.getMessage(), e);
        }
        Outputs.requireWritableFolder(out, "--out");
        LoadOptions options = LoadOptions.builder().sessionConfig(SessionConfig.builder().intraOpThreads(threads).build())
                .build();
        long t0 = System.nanoTime();
        try (LoadedModel m = load(model, "--model", options);
             LoadedModel t = teacher == null ? null : load(teacher, "--teacher", options);
             AttributeJudge judge = AttributeJudge.of(judgeModel, threads)) {
            err.println("senseflow: evaluating " + m.describe());
            err.flush();
            ShapesEvaluation.Report r = ShapesEvaluation.run(m.pipeline(), t == null ? null : t.pipeline(),
                    settings.withSteps(teacherSteps).withGuidance(null), judge, settings, msg -> {
                        err.println("senseflow: " + msg);
                        err.flush();
                    }, CancellationToken.none());
            Map<String, Object> metrics = new LinkedHashMap<>();
            metrics.put("model", model);
            metrics.put("teacher", teacher);
            metrics.put("steps", steps != null ? (long) steps : (long) m.defaults().steps());
            metrics.put("guidance", guidance != null ? guidance : m.defaults().guidanceScale());
            metrics.put("teacher_steps", teacher == null ? null : (long) teacherSteps);
            metrics.put("seed", seed);
            metrics.putAll(r.toMap());
            metrics.put("classifier", classifier == null ? "bundled" : classifier);
            metrics.put("wall_time_s", (System.nanoTime() - t0) / 1e9);
            AtomicFiles.write(out.resolve("metrics.json"), (Json.writePretty(metrics) + "\n").getBytes(StandardCharsets.UTF_8));
            AtomicFiles.write(out.resolve("metrics.md"), MetricsReport.markdown(model, r, metrics).getBytes(StandardCharsets.UTF_8));
            List<Tensor> rows = new ArrayList<>();
            List<String> labels = new ArrayList<>();
            rows.add(r.seenSamples().images().sliceBatch(0, Math.min(12, count)));
            labels.add("seen");
            if (r.heldOutSamples() != null) {
                rows.add(r.heldOutSamples().images().sliceBatch(0, Math.min(12, heldOut)));
                labels.add("held-out");
            }
            ImageGrid.of(rows, labels, 3).writePng(out.resolve("samples.png"));
            err.printf(Locale.ROOT, "senseflow: seen %s%nsenseflow: held-out %s%nsenseflow: FD-data %.3f (floor %.3f)%s%n",
                    r.seen(), r.heldOut(), r.fdData(), r.fdFloor(),
                    Double.isNaN(r.fdTeacher()) ? "" : String.format(Locale.ROOT, ", FD-T %.3f", r.fdTeacher()));
            err.flush();
        }
        spec.commandLine().getOut().println(out.resolve("metrics.json"));
        spec.commandLine().getOut().flush();
        return 0;
    }

    private static LoadedModel load(String what, String option, LoadOptions options) {
        if (what.equals("bundled")) {
            return ShapesModels.teacher(options);
        }
        Path p = Path.of(what);
        if (!java.nio.file.Files.isDirectory(p)) {
            throw InvalidRequestException.of(option, "a model folder or 'bundled'", what + " (not a folder)");
        }
        return Models.load(p, options);
    }
}
