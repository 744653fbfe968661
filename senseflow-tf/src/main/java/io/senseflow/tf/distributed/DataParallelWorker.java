package io.senseflow.tf.distributed;

import io.senseflow.InvalidRequestException;
import io.senseflow.NumericalException;
import io.senseflow.distill.DataShard;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.io.AtomicFiles;
import io.senseflow.onnx.checkpoint.Checkpoint;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One worker process of a data-parallel run: joins the {@link CollectiveGroup}, builds the job's distiller as its
 * {@link DataShard}, resumes from the run folder's latest checkpoint, runs to the config's last iteration, checks
 * every {@code fingerprintEvery} iterations (and at every checkpoint) that all workers hold bit-identical parameters,
 * and on task 0 writes the checkpoints. It reports how it ended in {@code workers/worker-<task>.status} in the run
 * folder (read by {@link DataParallelLauncher}) and exits 0 on success, 3 on failure.
 *
 * <p>Started by {@link DataParallelLauncher} on one machine, or by hand on each machine of a cluster (the same
 * arguments on every machine except {@code --task}):
 *
 * <pre>
 * java -cp CLASSPATH io.senseflow.tf.distributed.DataParallelWorker --job com.example.MyJob \
 *     --cluster host0:2222,host1:2222 --task 0 --run-dir /shared/run [--timeout-ms 60000] \
 *     [--checkpoint-every 100] [--fingerprint-every 10] [-- job arguments...]
 * </pre>
 *
 * The run folder must be the same folder for every worker (a shared file system) for resume to work across
 * machines; only task 0 writes into {@code checkpoints/}.
 */
public final class DataParallelWorker {
    /** Exit status of a worker that failed and reported why. */
    public static final int EXIT_FAILED = 3;
    /** Printed on standard output after every iteration: {@code PROGRESS task iteration}. */
    public static final String PROGRESS = "senseflow-dp-progress";

    private DataParallelWorker() {
    }

    /**
     * Options of one worker.
     *
     * @param jobClass the {@link DataParallelJob} or {@link DataParallelProgram} class name
     * @param cluster every worker's address
     * @param task this worker
     * @param runDir the run folder (checkpoints, status files)
     * @param timeout bound of each collective
     * @param checkpointEvery iterations between checkpoints (and at the last iteration); 0 for only the last
     * @param fingerprintEvery iterations between parameter fingerprint checks; 0 for only at checkpoints
     * @param jobArguments the job's arguments
     */
    public record Options(String jobClass, ClusterSpec cluster, int task, Path runDir, Duration timeout,
            long checkpointEvery, long fingerprintEvery, List<String> jobArguments) {

        /** Checks the options. */
        public Options {
            cluster.address(task);
            if (checkpointEvery < 0) {
                throw InvalidRequestException.of("checkpoint-every", "0 or more iterations", checkpointEvery);
            }
            if (fingerprintEvery < 0) {
                throw InvalidRequestException.of("fingerprint-every", "0 or more iterations", fingerprintEvery);
            }
            jobArguments = List.copyOf(jobArguments);
        }

        /** @return the command-line form {@link #parse} reads */
        public List<String> toArguments() {
            List<String> a = new ArrayList<>(List.of("--job", jobClass, "--cluster", cluster.toString(), "--task",
                    String.valueOf(task), "--run-dir", runDir.toString(), "--timeout-ms",
                    String.valueOf(timeout.toMillis()), "--checkpoint-every", String.valueOf(checkpointEvery),
                    "--fingerprint-every", String.valueOf(fingerprintEvery)));
            if (!jobArguments.isEmpty()) {
                a.add("--");
                a.addAll(jobArguments);
            }
            return a;
        }
    }

    /**
     * @param args the command line (see the class comment)
     * @return the options
     * @throws InvalidRequestException naming the flag that is missing or malformed
     */
    public static Options parse(String[] args) {
        FlagArguments parsed = FlagArguments.parse(args, "worker argument");
        Map<String, String> flags = parsed.flags();
        List<String> job = parsed.job();
        for (String required : List.of("job", "cluster", "task", "run-dir")) {
            if (!flags.containsKey(required)) {
                throw InvalidRequestException.of("--" + required, "a value", "none");
            }
        }
        return new Options(flags.get("job"), ClusterSpec.parse(flags.get("cluster")), parseInt(flags, "task", 0),
                Path.of(flags.get("run-dir")), Duration.ofMillis(parseLong(flags, "timeout-ms", 60_000)),
                parseLong(flags, "checkpoint-every", 0), parseLong(flags, "fingerprint-every", 0), job);
    }

    private static int parseInt(Map<String, String> f, String k, int dflt) {
        return Math.toIntExact(parseLong(f, k, dflt));
    }

    private static long parseLong(Map<String, String> f, String k, long dflt) {
        String v = f.get(k);
        if (v == null) {
            return dflt;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw InvalidRequestException.of("--" + k, "an integer", v);
        }
    }

    /**
     * The worker's entry point: runs and exits with 0 or {@link #EXIT_FAILED} (the gRPC server keeps a JVM alive
     * otherwise).
     *
     * @param args see the class comment
     */
    public static void main(String[] args) {
        int code;
        try {
            code = run(parse(args));
        } catch (RuntimeException e) {
            System.err.println("senseflow data-parallel worker: " + e);
            code = EXIT_FAILED;
        }
        System.out.flush();
        System.err.flush();
        Runtime.getRuntime().halt(code);
    }

    /** @param runDir a run folder @param task a task @return where that task reports how it ended */
    public static Path statusFile(Path runDir, int task) {
        return runDir.resolve("workers").resolve("worker-" + task + ".status");
    }

    /** @param runDir a run folder @return the checkpoint store the workers use */
    public static CheckpointStore checkpoints(Path runDir) {
        return CheckpointStore.builder(runDir.resolve("checkpoints")).keepLast(2).build();
    }

    /**
     * Runs one worker in this process to the end.
     *
     * @param o the options
     * @return 0 on success, {@link #EXIT_FAILED} after reporting a failure in the status file
     */
    public static int run(Options o) {
        Path status = statusFile(o.runDir(), o.task());
        long iteration = -1;
        try {
            Files.createDirectories(status.getParent());
            Files.deleteIfExists(status);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + status.getParent(), e);
        }
        // not try-with-resources: after a failure, closing a session whose peers are gone can block for many
        // seconds; a failed worker reports and exits without closing (the process ends right after)
        CollectiveGroup group = null;
        WorkerContext ctx = null;
        try {
            Object instance = instantiate(o.jobClass());
            group = CollectiveGroup.join(o.cluster(), o.task(), o.timeout());
            if (instance instanceof DataParallelProgram program) {
                program.run(group, o.runDir(), o.jobArguments());
                Map<String, String> ok = new LinkedHashMap<>();
                ok.put("status", "ok");
                ok.put("collective_bytes", String.valueOf(group.bytes()));
                ok.put("collective_ms", String.valueOf(group.nanos() / 1_000_000));
                writeStatus(status, ok);
                group.close();
                return 0;
            }
            ctx = new WorkerContext(new DataShard(o.task(), o.cluster().size()), new CollectiveGradientReducer(group),
                    o.jobArguments());
            DataParallelJob job = (DataParallelJob) instance;
            Distiller d = job.build(ctx);
            long[] time = new long[2]; // all-reduce, whole iterations
            d.addListener(m -> {
                time[0] += m.phaseNanos().getOrDefault("allreduce", 0L);
                time[1] += m.phaseNanos().getOrDefault("total", 0L);
            });
            CheckpointStore store = checkpoints(o.runDir());
            Optional<Checkpoint> latest = store.loadLatest();
            if (latest.isPresent()) {
                d.restore(latest.get().snapshot());
            }
            iteration = d.iteration();
            long fp = checkFingerprint(group, d.snapshot(), iteration);
            long end = d.config().iterations();
            while (d.iteration() < end) {
                d.step();
                iteration = d.iteration();
                System.out.println(PROGRESS + " " + o.task() + " " + iteration);
                boolean checkpoint = iteration == end || (o.checkpointEvery() > 0 && iteration % o.checkpointEvery() == 0);
                boolean check = checkpoint || (o.fingerprintEvery() > 0 && iteration % o.fingerprintEvery() == 0);
                if (check) {
                    TrainingSnapshot snap = d.snapshot();
                    fp = checkFingerprint(group, snap, iteration);
                    if (checkpoint && o.task() == 0) {
                        store.save(snap);
                    }
                }
            }
            Map<String, String> ok = new LinkedHashMap<>();
            ok.put("status", "ok");
            ok.put("iteration", String.valueOf(iteration));
            ok.put("fingerprint", Long.toHexString(fp));
            ok.put("collective_bytes", String.valueOf(group.bytes()));
            ok.put("collective_ms", String.valueOf(group.nanos() / 1_000_000));
            ok.put("allreduce_ms", String.valueOf(time[0] / 1_000_000));
            ok.put("iterations_ms", String.valueOf(time[1] / 1_000_000));
            writeStatus(status, ok);
            ctx.close();
            group.close();
            return 0;
        } catch (Throwable e) {
            Map<String, String> s = new LinkedHashMap<>();
            s.put("status", "failed");
            s.put("iteration", String.valueOf(iteration));
            s.put("exception", e.getClass().getName());
            s.put("kind", kind(e).name());
            s.put("message", String.valueOf(e.getMessage()).replace('\n', ' '));
            try {
                writeStatus(status, s);
            } catch (RuntimeException ignored) {
                // disk full or folder gone: the launcher then sees a worker that ended without a report
            }
            System.err.println("senseflow data-parallel worker " + o.task() + " failed at iteration " + iteration
                    + ": " + e);
            return EXIT_FAILED;
        }
    }

    private static WorkerFailureException.Cause kind(Throwable e) {
        if (e instanceof CollectiveException c) {
            return c.timedOut() ? WorkerFailureException.Cause.HUNG : WorkerFailureException.Cause.COLLECTIVE;
        }
        if (e instanceof NumericalException) {
            return WorkerFailureException.Cause.NON_FINITE;
        }
        if (e instanceof WorkerFailureException w) {
            return w.failure();
        }
        return WorkerFailureException.Cause.ERROR;
    }

    private static long checkFingerprint(CollectiveGroup group, TrainingSnapshot snap, long iteration) {
        return ParameterFingerprint.check(group, snap, iteration);
    }

    private static Object instantiate(String name) {
        try {
            Class<?> c = Class.forName(name);
            if (!DataParallelJob.class.isAssignableFrom(c) && !DataParallelProgram.class.isAssignableFrom(c)) {
                throw InvalidRequestException.of("--job", "a class implementing " + DataParallelJob.class.getName()
                        + " or " + DataParallelProgram.class.getName(), name);
            }
            return c.getDeclaredConstructor().newInstance();
        } catch (ClassNotFoundException e) {
            throw InvalidRequestException.of("--job", "a class on the worker's class path", name);
        } catch (ReflectiveOperationException e) {
            throw InvalidRequestException.of("--job", "a public no-argument constructor", name + ": " + e);
        }
    }

    private static void writeStatus(Path file, Map<String, String> values) {
        StringBuilder b = new StringBuilder();
        values.forEach((k, v) -> b.append(k).append('=').append(v).append('\n'));
        AtomicFiles.write(file, b.toString().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * @param file a status file
     * @return its entries, or empty if the worker wrote none
     */
    public static Map<String, String> readStatus(Path file) {
        Map<String, String> out = new LinkedHashMap<>();
        if (!Files.isRegularFile(file)) {
            return out;
        }
        try {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    out.put(line.substring(0, eq), line.substring(eq + 1));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        return out;
    }
}
