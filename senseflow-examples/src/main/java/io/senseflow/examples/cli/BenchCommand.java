package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.bench.BenchHarness;
import io.senseflow.bench.BenchSettings;
import io.senseflow.bench.ModelFolders;
import io.senseflow.bench.Report;
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

    @Option(names = "--no-large", description = "leave out the large in-house model (64 x 64 latents, width 384, "
            + "depth 8), which takes most of the time")
    boolean noLarge;

    @Option(names = "--smoke", description = "tiny models, one repetition: checks the harness runs (numbers mean nothing)")
    boolean smoke;

    @Option(names = "--threads", defaultValue = "2", paramLabel = "N",
            description = "intra-op threads for ONNX Runtime and TensorFlow (default: ${DEFAULT-VALUE})")
    int threads;

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
            settings = new BenchSettings(threads, p, smoke ? 1 : reps, smoke ? 0 : warmUp, work, System.err);
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage(), e);
        }
        BenchHarness harness = new BenchHarness(settings);
        ModelFolders shapes = shapesTeacher == null ? null
                : new ModelFolders("Shapes (bundled)", shapesTeacher, shapesStudent, true);
        BenchHarness.Plan plan = smoke ? harness.smokePlan(chosen) : harness.standardPlan(chosen, shapes, !noLarge);
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
}
