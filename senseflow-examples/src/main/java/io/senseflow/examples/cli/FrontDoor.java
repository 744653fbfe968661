package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Recipe;
import io.senseflow.examples.distill.Curves;
import io.senseflow.examples.distill.RunHistory;
import io.senseflow.io.FileTrees;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tf.distributed.ClusterSpec;
import io.senseflow.tf.distributed.CollectiveGroup;
import io.senseflow.tf.distributed.DataParallelLauncher;
import io.senseflow.tf.distributed.DataParallelWorker;
import io.senseflow.tf.distributed.WorkerFailureException;
import io.senseflow.tf.run.DistillationRun;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** {@code senseflow distill --prompts}: the front door, a {@link DistillationRun} from an Optimum folder. */
final class FrontDoor {
    /** The run folder's loss-curve chart. */
    static final String CURVES = "curves.png";

    private FrontDoor() {
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + file, e);
        }
    }

    static int run(DistillCommand c, PrintWriter err, PrintWriter stdout, DistillationConfig ignoredShapesConfig) {
        DistillationRun.Builder b = builder(c);
        long stopAt = c.stopAt == null ? Long.MAX_VALUE : c.stopAt;
        long start = System.nanoTime();
        try (InterruptGuard guard = new InterruptGuard(120)) {
            DistillProgress[] progress = new DistillProgress[1];
            if (!c.quiet) {
                b.listener(m -> progress[0].onIteration(m));
            }
            try (DistillationRun run = b.build()) {
                if (!c.quiet) {
                    progress[0] = new DistillProgress(err, "distill", run.config().iterations());
                    err.printf(Locale.ROOT, "senseflow: distilling %s (%s) into %s: %d iterations, batch %d%s%n",
                            run.family().id(), c.presetName(), run.folder(), run.config().iterations(),
                            run.config().batchSize(), run.resumedFrom().map(i -> ", resuming at iteration " + i)
                                    .orElse(""));
                    err.flush();
                }
                run.runUntil(stopAt, guard.token());
                stdout.printf(Locale.ROOT, "losses:      %s%n", run.folder().resolve(DistillationRun.LOSSES));
                stdout.printf(Locale.ROOT, "curves:      %s%n", run.folder().resolve(CURVES));
                stdout.printf(Locale.ROOT, "checkpoints: %s%n", run.folder().resolve(DistillationRun.CHECKPOINTS));
                if (run.iteration() >= run.config().iterations()) {
                    stdout.printf(Locale.ROOT, "student:     %s%n", exportStudent(run));
                    if (run.lora() != null) {
                        stdout.printf(Locale.ROOT, "adapters:    %s (%s)%n", run.folder().resolve(
                                "adapters.safetensors"), run.lora());
                    }
                } else {
                    stdout.printf(Locale.ROOT, "stopped at iteration %d of %d: continue with --resume %s%n",
                            run.iteration(), run.config().iterations(), run.folder());
                }
                stdout.printf(Locale.ROOT, "%d iterations, %.1f s%n", run.iteration(),
                        (System.nanoTime() - start) / 1e9);
                stdout.flush();
            }
        }
        return 0;
    }

    /** Writes the student into RUN/student (replacing an earlier export whole). */
    private static Path exportStudent(DistillationRun run) {
        Path student = run.folder().resolve("student");
        Path fresh = run.folder().resolve("student.new");
        try {
            FileTrees.delete(fresh);
            run.exportStudent(fresh);
            FileTrees.delete(student);
            Files.move(fresh, student);
            if (run.lora() != null) {
                run.exportAdapters(run.folder().resolve("adapters.safetensors"));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("exporting the student to " + student + ": " + e.getMessage(), e);
        }
        return student;
    }

    /** The flags that choose the data-parallel form; the workers get every other argument as it was given. */
    private static final List<String> DP_FLAGS = List.of("--workers", "--cluster", "--task", "--collective-timeout-ms",
            "--max-restarts");

    /**
     * {@code --workers N} (N local worker JVMs, supervised and restarted by {@link DataParallelLauncher}) or
     * {@code --cluster ... --task i} (this process is worker i). Every worker runs {@link FrontDoorWorker}: the same
     * front-door run with {@link DistillationRun.Builder#dataParallel}.
     */
    static int runDataParallel(DistillCommand c, PrintWriter err, PrintWriter stdout) {
        if (c.cluster != null && c.workers != 1) {
            throw InvalidRequestException.of("--workers", "either --workers N (local) or --cluster with --task",
                    "both");
        }
        if ((c.cluster == null) != (c.task == null)) {
            throw InvalidRequestException.of(c.cluster == null ? "--task" : "--cluster", "--cluster and --task"
                    + " together", c.cluster == null ? "--task without --cluster" : "--cluster without --task");
        }
        if (c.cluster == null && c.workers < 1) {
            throw InvalidRequestException.of("--workers", "at least 1", c.workers);
        }
        if (c.collectiveTimeoutMs < 1) {
            throw InvalidRequestException.of("--collective-timeout-ms", "at least 1", c.collectiveTimeoutMs);
        }
        requireNoBackbone(c);
        int n = c.cluster == null ? c.workers : ClusterSpec.parse(c.cluster).size();
        if (c.batch != null && c.batch % n != 0) {
            throw InvalidRequestException.of("--workers", "a worker count that divides --batch " + c.batch
                    + " (each worker computes batch / workers samples)", n);
        }
        Path out = c.out.toAbsolutePath().normalize();
        if (!c.resume && Files.exists(out) && !(Files.isDirectory(out) && FileTrees.isEmptyDirectory(out))
                && c.cluster == null) {
            throw InvalidRequestException.of("--out " + out, "a new or empty folder (--resume continues a run)",
                    Files.isDirectory(out) ? "a folder with files" : "a file");
        }
        List<String> workerArgs = workerArguments(c.originalArgs());
        long start = System.nanoTime();
        int workers;
        if (c.cluster != null) {
            ClusterSpec spec = ClusterSpec.parse(c.cluster);
            workers = spec.size();
            int code = DataParallelWorker.run(new DataParallelWorker.Options(FrontDoorWorker.class.getName(), spec,
                    c.task, out, Duration.ofMillis(c.collectiveTimeoutMs), 0, 0, workerArgs));
            if (code != 0) {
                Map<String, String> st = DataParallelWorker.readStatus(DataParallelWorker.statusFile(out, c.task));
                throw new WorkerFailureException(c.task, WorkerFailureException.Cause.valueOf(st.getOrDefault("kind",
                        "ERROR")), false, st.getOrDefault("message", "failed (see its status file)"));
            }
            if (c.task != 0) {
                stdout.printf(Locale.ROOT, "worker %d of %d done; worker 0 wrote %s%n", c.task, workers, out);
                stdout.flush();
                return 0;
            }
        } else {
            workers = c.workers;
            if (!c.quiet) {
                err.printf(Locale.ROOT, "senseflow: distilling on %d worker processes into %s (logs in %s)%n",
                        workers, out, out.resolve("workers"));
                err.flush();
            }
            DataParallelLauncher.Result r = DataParallelLauncher.builder().workers(workers)
                    .program(FrontDoorWorker.class).jobArguments(workerArgs).runDir(out)
                    .collectiveTimeout(Duration.ofMillis(c.collectiveTimeoutMs)).maxRestarts(c.maxRestarts)
                    .build().run();
            if (!r.failures().isEmpty() && !c.quiet) {
                err.println("senseflow: recovered from: " + r.failures().stream().map(Throwable::getMessage).toList());
            }
        }
        stdout.printf(Locale.ROOT, "losses:      %s%n", out.resolve(DistillationRun.LOSSES));
        stdout.printf(Locale.ROOT, "checkpoints: %s%n", out.resolve(DistillationRun.CHECKPOINTS));
        Path student = out.resolve("student");
        if (Files.isDirectory(student)) {
            stdout.printf(Locale.ROOT, "student:     %s%n", student);
        } else {
            stdout.printf(Locale.ROOT, "stopped before the last iteration: continue with --resume %s%n", out);
        }
        stdout.printf(Locale.ROOT, "%d workers, %.1f s%n", workers, (System.nanoTime() - start) / 1e9);
        stdout.flush();
        return 0;
    }

    /** Refuses a VFM backbone before any worker starts (the workers would refuse it too). */
    private static void requireNoBackbone(DistillCommand c) {
        if (c.backbone != null) {
            throw InvalidRequestException.of("--backbone " + c.backbone, "no --backbone with --workers/--cluster (the"
                    + " VFM discriminator draws its own inputs per sample, which are not sharded yet; the GAN term with"
                    + " its MLP head, the default, runs data-parallel)", "a backbone");
        }
    }

    /** @return the command line without the data-parallel flags, plus --quiet (the workers' output goes to logs) */
    static List<String> workerArguments(List<String> original) {
        List<String> out = new ArrayList<>();
        // the parse result's arguments start with the top-level command's (up to the subcommand's name)
        int from = original.indexOf("distill") + 1;
        for (int i = from; i < original.size(); i++) {
            String a = original.get(i);
            String name = a.contains("=") ? a.substring(0, a.indexOf('=')) : a;
            if (DP_FLAGS.contains(name)) {
                if (!a.contains("=")) {
                    i++;
                }
                continue;
            }
            out.add(a);
        }
        if (!out.contains("--quiet")) {
            out.add("--quiet");
        }
        return out;
    }

    /**
     * One worker of a data-parallel front-door run (called by {@link FrontDoorWorker}): the run of {@link #builder},
     * made a worker; it continues from the folder's latest checkpoint when there is one; worker 0 exports the
     * student at the end.
     */
    static void runWorker(DistillCommand c, CollectiveGroup group) {
        c.resolveOut();
        if (!c.frontDoor()) {
            throw InvalidRequestException.of("worker arguments", "a front-door distill command (--prompts, or --resume"
                    + " of a front-door run)", c.originalArgs().toString());
        }
        Path store = c.out.resolve(DistillationRun.CHECKPOINTS);
        boolean hasCheckpoint = Files.isDirectory(store) && !FileTrees.isEmptyDirectory(store);
        if (hasCheckpoint) {
            c.resume = true;
        }
        DistillationRun.Builder b = builder(c).dataParallel(group);
        if (hasCheckpoint) {
            b.resume(true);
        }
        long stopAt = c.stopAt == null ? Long.MAX_VALUE : c.stopAt;
        try (DistillationRun run = b.build()) {
            run.runUntil(stopAt, CancellationToken.none());
            if (group.task() == 0 && run.iteration() >= run.config().iterations()) {
                exportStudent(run);
            }
        }
    }

    /** @return the front-door builder of the command's flags */
    static DistillationRun.Builder builder(DistillCommand c) {
        DistillationRun.Builder b;
        if (c.resume && c.teacher == null) {
            b = DistillationRun.resume(c.out);
        } else {
            if (c.teacher == null) {
                throw InvalidRequestException.of("--teacher", "a teacher model folder", "none");
            }
            b = DistillationRun.builder(c.teacher).folder(c.out).resume(c.resume);
        }
        if (c.prompts != null) {
            b.prompts(c.prompts);
        }
        if (c.backbone != null) {
            b.backbone(c.backbone);
        }
        if (c.data != null) {
            b.realData(c.data);
        }
        if (c.source != null && c.source.config != null) {
            b.config(DistillCommand.readConfig(c.source.config));
        } else if (c.source != null && c.source.preset != null) {
            b.recipe(Recipe.fromId(c.source.preset));
        }
        if (c.iterations != null) {
            b.iterations(c.iterations);
        }
        if (c.batch != null) {
            b.batchSize(c.batch);
        }
        if (c.seed != null) {
            b.seed(c.seed);
        }
        if (c.size != null) {
            String[] wh = c.size.toLowerCase(Locale.ROOT).split("x");
            try {
                b.imageSize(Integer.parseInt(wh[0].trim()), Integer.parseInt(wh[1].trim()));
            } catch (RuntimeException e) {
                throw InvalidRequestException.of("--size", "WxH, e.g. 1024x1024", c.size);
            }
        }
        LoadOptions.Builder lo = LoadOptions.builder();
        if (c.t5Length != null) {
            lo.t5SequenceLength(c.t5Length);
        }
        if (c.threads > 0) {
            lo.sessionConfig(SessionConfig.builder().intraOpThreads(c.threads).interOpThreads(1).build());
        }
        b.loadOptions(lo.build()).threads(c.threads).checkpointEvery(c.checkpointEvery);
        // the curves, drawn at every checkpoint from the losses.csv the run has just written (earlier runs' rows too)
        b.runFile(CURVES, r -> {
            Path losses = r.folder().resolve(DistillationRun.LOSSES);
            return Curves.png(RunHistory.fromLongLosses(readLines(losses), losses.toString()));
        });
        io.senseflow.tf.lora.LoraConfig lora = loraConfig(c);
        if (lora != null) {
            b.lora(lora);
        }
        return b;
    }

    /** The LoRA settings of {@code --lora-rank/--lora-alpha/--lora-targets}, or null without {@code --lora-rank}. */
    static io.senseflow.tf.lora.LoraConfig loraConfig(DistillCommand c) {
        if (c.loraRank == null) {
            if (c.loraAlpha != null || c.loraTargets != null || c.loraBf16) {
                throw InvalidRequestException.of(c.loraAlpha != null ? "--lora-alpha" : c.loraTargets != null
                        ? "--lora-targets" : "--lora-bf16", "--lora-rank R as well", "no --lora-rank");
            }
            return null;
        }
        io.senseflow.tf.lora.LoraConfig.Builder l = io.senseflow.tf.lora.LoraConfig.rank(c.loraRank)
                .targets(c.loraTargets).bfloat16Base(c.loraBf16);
        if (c.loraAlpha != null) {
            l.alpha(c.loraAlpha);
        }
        return l.build();
    }
}
