package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.bench.BenchHarness;
import io.senseflow.bench.BenchSettings;
import io.senseflow.bench.ModelFolders;
import io.senseflow.bench.Report;
import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.SchedulerSpec;
import io.senseflow.onnx.folders.SenseFlowFolder;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import io.senseflow.onnx.runtime.ExecutionProvider;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code senseflow bench}: the benchmark harness of {@code senseflow-bench}; writes a Markdown report. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measure sampling speed, the SDK's overhead, distillation cost, scaling and threads "
                + "(docs/performance.md). Tables go to stdout as they are measured and to --out."},
        footer = {"", "Examples:",
                "  senseflow bench --suite sampling,overhead --no-large",
                "  senseflow bench --bundled --out perf.md",
                "  senseflow bench --shapes-teacher shapes/teacher --shapes-student shapes/student --out perf.md",
                "  senseflow bench --smoke"})
final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--suite", split = ",", paramLabel = "NAME",
            description = "sampling, overhead, distillation, scaling, threads (default: all)")
    List<String> suites;

    @Option(names = "--shapes-teacher", paramLabel = "DIR", description = "the Shapes teacher folder (default: "
            + "Shapes-sized models with random weights)")
    Path shapesTeacher;

    @Option(names = "--shapes-student", paramLabel = "DIR", description = "the Shapes student folder")
    Path shapesStudent;

    @Option(names = "--bundled", description = "the bundled Shapes teacher and student (ShapesModels); where no "
            + "student is bundled, a stand-in: the teacher's graphs with the student's scheduler and no guidance (the "
            + "same architecture, so the same cost per step)")
    boolean bundled;

    @Option(names = "--no-shapes", description = "leave out the Shapes models (run only the large one)")
    boolean noShapes;

    @Option(names = "--no-large", description = "leave out the large in-house model (64 x 64 latents, width 384, "
            + "depth 8), which takes most of the time")
    boolean noLarge;

    @Option(names = "--smoke", description = "tiny models, one repetition: checks the harness runs (numbers mean nothing)")
    boolean smoke;

    @Option(names = "--threads", defaultValue = "2", paramLabel = "N",
            description = "intra-op threads for ONNX Runtime and TensorFlow (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--spin", defaultValue = "within-runs", paramLabel = "within-runs|always|off",
            description = "how idle ONNX Runtime workers wait for work: spin while a run is in progress and sleep when "
                    + "it returns (the SDK's default), keep spinning after runs too (ONNX Runtime's own default), or "
                    + "never spin (default: ${DEFAULT-VALUE})")
    String spin;

    @Option(names = "--provider", defaultValue = "cpu", paramLabel = "cpu|cuda",
            description = "ONNX Runtime's execution provider (default: ${DEFAULT-VALUE}); cuda needs the -Pgpu build")
    String provider;

    @Option(names = "--reps", defaultValue = "5", paramLabel = "N",
            description = "measured repetitions per case (default: ${DEFAULT-VALUE}; calls over 45 s run once)")
    int reps;

    @Option(names = "--warm-up", defaultValue = "2", paramLabel = "SECONDS",
            description = "warm-up per sampling configuration (default: ${DEFAULT-VALUE})")
    double warmUp;

    @Option(names = "--work", defaultValue = "bench-work", paramLabel = "DIR",
            description = "where generated model folders are kept between runs (default: ${DEFAULT-VALUE})")
    Path work;

    @Option(names = "--out", defaultValue = "bench-report.md", paramLabel = "FILE",
            description = "the Markdown report (default: ${DEFAULT-VALUE})")
    Path out;

    @Override
    public Integer call() {
        Set<BenchHarness.Suite> chosen = EnumSet.noneOf(BenchHarness.Suite.class);
        if (suites == null || suites.isEmpty()) {
            chosen.addAll(EnumSet.allOf(BenchHarness.Suite.class));
        } else {
            for (String s : suites) {
                try {
                    chosen.add(BenchHarness.Suite.of(s));
                } catch (IllegalArgumentException e) {
                    throw InvalidRequestException.of("--suite", "sampling, overhead, distillation, scaling or threads",
                            "\"" + s + "\"");
                }
            }
        }
        if (bundled && shapesTeacher != null) {
            throw InvalidRequestException.of("--bundled", "no --shapes-teacher or --shapes-student with it",
                    "both given");
        }
        if ((shapesTeacher == null) != (shapesStudent == null)) {
            throw InvalidRequestException.of("--shapes-teacher and --shapes-student", "both or neither",
                    "only " + (shapesTeacher != null ? "--shapes-teacher" : "--shapes-student"));
        }
        ExecutionProvider p = switch (provider.toLowerCase(Locale.ROOT)) {
            case "cpu" -> ExecutionProvider.CPU;
            case "cuda" -> ExecutionProvider.CUDA;
            default -> throw InvalidRequestException.of("--provider", "cpu or cuda", provider);
        };
        PrintStream stdout = System.out;
        BenchSettings settings;
        try {
            settings = new BenchSettings(threads, p, smoke ? 1 : reps, smoke ? 0 : warmUp, work, System.err,
                    BenchSettings.Spin.of(spin));
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("No enum constant")) {
                throw InvalidRequestException.of("--spin", "within-runs, always or off", "\"" + spin + "\"");
            }
            throw new InvalidRequestException(e.getMessage(), e);
        }
        BenchHarness harness = new BenchHarness(settings);
        ModelFolders shapes = bundled ? bundledFolders(work.resolve("bundled"))
                : shapesTeacher == null ? null : new ModelFolders("Shapes", shapesTeacher, shapesStudent, true);
        BenchHarness.Plan plan = smoke ? harness.smokePlan(chosen) : harness.standardPlan(chosen, shapes, !noShapes, !noLarge);
        Report report = new Report(stdout);
        report.note("# senseflow bench");
        try {
            harness.run(plan, report);
        } finally {
            report.write(out);
            System.err.println("senseflow: report written to " + out.toAbsolutePath());
        }
        return 0;
    }

    /** The anchors of the Shapes student presets (the SD3.5 grid). */
    static final double[] ANCHORS = {1, 0.9, 0.75, 0.5};

    /** Copies the bundled teacher (and student, or writes the stand-in) out of the classpath. */
    static ModelFolders bundledFolders(Path dir) {
        Path teacher = ShapesModels.copyTo(ShapesModels.TEACHER, dir.resolve(ShapesModels.TEACHER));
        Path student = dir.resolve(ShapesModels.STUDENT);
        if (ShapesModels.isBundled(ShapesModels.STUDENT)) {
            ShapesModels.copyTo(ShapesModels.STUDENT, student);
            return new ModelFolders("Shapes (bundled teacher and student)", teacher, student, true);
        }
        standInStudent(teacher, student);
        return new ModelFolders("Shapes (bundled teacher; student: stand-in with the teacher's weights)", teacher,
                student, true);
    }

    /**
     * A student-shaped folder from a teacher folder: the same graphs, the few-step scheduler on the student anchors,
     * no guidance. It samples what a student of this architecture costs, not what a student draws.
     */
    static void standInStudent(Path teacher, Path target) {
        try {
            JsonObject index = Json.parseObject(Files.readString(teacher.resolve("model_index.json")));
            JsonObject d = index.getObject("defaults");
            String pad = Json.parseObject(Files.readString(teacher.resolve("tokenizer/tokenizer_config.json")))
                    .getString("pad_token");
            SenseFlowFolder.builder().name("shapes-student-stand-in")
                    .transformer(OnnxModel.read(teacher.resolve("transformer/model.onnx")))
                    .textEncoder(OnnxModel.read(teacher.resolve("text_encoder/model.onnx")))
                    .vaeDecoder(OnnxModel.read(teacher.resolve("vae_decoder/model.onnx")))
                    .tokenizer(Files.readString(teacher.resolve("tokenizer/tokenizer.json")), pad)
                    .scheduler(SchedulerSpec.fewStep(ANCHORS)).guidance(GuidanceMode.NONE)
                    .defaults(new ModelDefaults(ANCHORS.length, 1.0, d.getInt("width"), d.getInt("height")))
                    .provenance("made_by", "senseflow bench: the bundled teacher's graphs with a student's scheduler, "
                            + "for timing only").build().write(target);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
