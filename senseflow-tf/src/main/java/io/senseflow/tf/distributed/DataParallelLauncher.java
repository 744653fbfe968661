package io.senseflow.tf.distributed;

import io.senseflow.InvalidRequestException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a data-parallel job as N worker JVMs on this machine (loopback ports) and supervises them: when any worker
 * fails (dies, hangs past the collective timeout, reports an error) every worker is stopped within
 * {@code collectiveTimeout + grace} of the first report (of a death: within {@code grace} after a peer's timeout), the failure is named ({@link WorkerFailureException}: which worker, what
 * happened), and, if it can help (a death or hang, not a NaN or a bad input), all workers are restarted from the
 * last checkpoint, at most {@code maxRestarts} times. Because the run is deterministic and resumes exactly, a run
 * that survived a killed worker ends with the same bits as one that was never interrupted.
 *
 * <p>Workers are started with this JVM's {@code java}, this JVM's class path (TensorFlow Java must be on the class
 * path) and {@code TF_ENABLE_ONEDNN_OPTS=0}; each worker's output goes to {@code workers/attempt-<a>-worker-<k>.log}
 * in the run folder. Every process it starts is ended by its handle before {@link #run()} returns.
 *
 * <p>For several machines, start {@link DataParallelWorker} on each machine instead (see docs/distributed.md); this
 * launcher is the one-machine form.
 */
public final class DataParallelLauncher {
    private static final Logger LOG = LoggerFactory.getLogger(DataParallelLauncher.class);

    private final Builder b;

    /** Called when an attempt's workers have started (tests use it to inject faults). */
    @FunctionalInterface
    public interface AttemptListener {
        /**
         * @param attempt 0 for the first start, then 1, 2, ... after each restart
         * @param workers the worker processes, in task order
         */
        void started(int attempt, List<Process> workers);
    }

    /**
     * How a launched run went.
     *
     * @param attempts how many times the workers were started (1 without failures)
     * @param failures the failure of each attempt but the last, in order
     * @param statuses the last attempt's status entries per worker
     */
    public record Result(int attempts, List<WorkerFailureException> failures, List<Map<String, String>> statuses) {
    }

    private DataParallelLauncher(Builder b) {
        this.b = b;
    }

    /** @return a new builder */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Runs the job to its end, restarting after retryable failures.
     *
     * @return how it went
     * @throws WorkerFailureException naming the worker and cause of the last failure, when it is not retryable or the
     *     restarts are used up
     */
    public Result run() {
        List<WorkerFailureException> failures = new ArrayList<>();
        for (int attempt = 0; ; attempt++) {
            WorkerFailureException f = attempt(attempt);
            if (f == null) {
                List<Map<String, String>> st = new ArrayList<>();
                for (int k = 0; k < b.workers; k++) {
                    st.add(DataParallelWorker.readStatus(DataParallelWorker.statusFile(b.runDir, k)));
                }
                return new Result(attempt + 1, List.copyOf(failures), st);
            }
            LOG.warn("data-parallel attempt {} failed: {}", attempt, f.getMessage());
            if (!f.retryable() || attempt >= b.maxRestarts) {
                for (WorkerFailureException earlier : failures) {
                    f.addSuppressed(earlier);
                }
                throw f;
            }
            failures.add(f);
        }
    }

    private WorkerFailureException attempt(int attempt) {
        ClusterSpec cluster = ClusterSpec.loopback(b.workers);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<Process> procs = new ArrayList<>();
        try {
            Files.createDirectories(b.runDir.resolve("workers"));
            for (int k = 0; k < b.workers; k++) {
                Files.deleteIfExists(DataParallelWorker.statusFile(b.runDir, k));
            }
            for (int k = 0; k < b.workers; k++) {
                DataParallelWorker.Options o = new DataParallelWorker.Options(b.jobClass, cluster, k, b.runDir,
                        b.collectiveTimeout, b.checkpointEvery, b.fingerprintEvery, b.jobArguments);
                List<String> cmd = new ArrayList<>();
                cmd.add(java.toString());
                cmd.addAll(b.javaOptions);
                cmd.add("-cp");
                cmd.add(b.classPath);
                cmd.add(DataParallelWorker.class.getName());
                cmd.addAll(o.toArguments());
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(b.runDir.resolve("workers").resolve("attempt-" + attempt + "-worker-" + k + ".log").toFile());
                pb.environment().put("TF_ENABLE_ONEDNN_OPTS", "0");
                pb.environment().putIfAbsent("TF_CPP_MIN_LOG_LEVEL", "2");
                procs.add(pb.start());
            }
            if (b.listener != null) {
                b.listener.started(attempt, List.copyOf(procs));
            }
            return supervise(procs);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the data-parallel workers in " + b.runDir, e);
        } finally {
            for (Process p : procs) {
                if (p.isAlive()) {
                    p.destroyForcibly();
                }
            }
            for (Process p : procs) {
                try {
                    p.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }

    /** Waits for the workers; after the first failure gives the others the collective timeout plus grace. */
    private WorkerFailureException supervise(List<Process> procs) {
        long start = System.nanoTime();
        long firstFailure = -1;
        long bound = b.collectiveTimeout.plus(b.grace).toNanos();
        long shortBound = b.grace.toNanos();
        boolean firstWasTimeout = false;
        while (true) {
            boolean allDone = true;
            for (int k = 0; k < procs.size(); k++) {
                Process p = procs.get(k);
                if (p.isAlive()) {
                    allDone = false;
                    // a worker reports its failure before it exits
                    Map<String, String> st = firstFailure < 0
                            ? DataParallelWorker.readStatus(DataParallelWorker.statusFile(b.runDir, k)) : Map.of();
                    if ("failed".equals(st.get("status"))) {
                        firstFailure = System.nanoTime();
                        // a timeout: the healthy peers have been waiting as long and time out about now too
                        firstWasTimeout = "HUNG".equals(st.get("kind"));
                    }
                } else if (p.exitValue() != 0 && firstFailure < 0) {
                    firstFailure = System.nanoTime();
                }
            }
            if (allDone && firstFailure < 0) {
                return null;
            }
            long now = System.nanoTime();
            boolean attemptOver = b.attemptTimeout != null && now - start > b.attemptTimeout.toNanos();
            if (allDone || attemptOver || (firstFailure >= 0 && now - firstFailure > (firstWasTimeout ? shortBound : bound))) {
                List<Boolean> alive = new ArrayList<>();
                for (Process p : procs) {
                    alive.add(p.isAlive());
                    if (p.isAlive()) {
                        p.destroyForcibly();
                    }
                }
                return diagnose(procs, alive, attemptOver && firstFailure < 0);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new WorkerFailureException(0, WorkerFailureException.Cause.ERROR, false, "launcher interrupted");
            }
        }
    }

    private WorkerFailureException diagnose(List<Process> procs, List<Boolean> aliveAtEnd, boolean wholeRunTimedOut) {
        int n = procs.size();
        List<Map<String, String>> st = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            st.add(DataParallelWorker.readStatus(DataParallelWorker.statusFile(b.runDir, k)));
        }
        // 1. a worker that reported a failure of its own (not a collective failure caused by a peer)
        for (int k = 0; k < n; k++) {
            Map<String, String> s = st.get(k);
            String kind = s.getOrDefault("kind", "");
            if ("failed".equals(s.get("status")) && !kind.equals("HUNG") && !kind.equals("COLLECTIVE")) {
                WorkerFailureException.Cause c = WorkerFailureException.Cause.valueOf(kind);
                if (c == WorkerFailureException.Cause.DIVERGED) {
                    return new WorkerFailureException(k, c, false, s.get("message"));
                }
                return new WorkerFailureException(k, c, false, "at iteration " + s.get("iteration") + ": "
                        + s.get("exception") + ": " + s.get("message"));
            }
        }
        // 2. a worker that ended without a report: killed or crashed
        for (int k = 0; k < n; k++) {
            if (!aliveAtEnd.get(k) && st.get(k).isEmpty()) {
                int code = procs.get(k).exitValue();
                String how = code > 128 ? "killed by signal " + (code - 128) : "exit status " + code;
                return new WorkerFailureException(k, WorkerFailureException.Cause.DIED, true, "the process ended without"
                        + " a report (" + how + "); the other workers were stopped");
            }
        }
        // 3. a worker still alive after the others gave up on it: hung
        for (int k = 0; k < n; k++) {
            if (aliveAtEnd.get(k) && st.get(k).isEmpty()) {
                return new WorkerFailureException(k, WorkerFailureException.Cause.HUNG, true, wholeRunTimedOut
                        ? "the attempt ran past its bound of " + b.attemptTimeout + "; killed"
                        : "still running after the other workers failed or timed out waiting for it (it stopped"
                        + " taking part in the collectives); killed");
            }
        }
        // 4. everybody reported a collective failure: no clearer culprit
        for (int k = 0; k < n; k++) {
            Map<String, String> s = st.get(k);
            if ("failed".equals(s.get("status"))) {
                return new WorkerFailureException(k, WorkerFailureException.Cause.COLLECTIVE, true, "at iteration "
                        + s.get("iteration") + ": " + s.get("message"));
            }
        }
        return new WorkerFailureException(0, WorkerFailureException.Cause.ERROR, true, "a worker exited with a failure"
                + " status and no report");
    }

    /**
     * The command-line form of the one-machine launcher:
     *
     * <pre>
     * java -cp CLASSPATH io.senseflow.tf.distributed.DataParallelLauncher --workers 2 --job com.example.MyJob \
     *     --run-dir runs/dp [--timeout-ms 60000] [--checkpoint-every 100] [--fingerprint-every 10] \
     *     [--max-restarts 2] [-- job arguments...]
     * </pre>
     *
     * Exits 0 when the run completed (after restarts, if any) and 3 with the named failure otherwise.
     *
     * @param args see above
     */
    public static void main(String[] args) {
        int code;
        try {
            Result r = parse(args).run();
            System.out.println("senseflow data-parallel run done: " + r.attempts() + " attempt(s)"
                    + (r.failures().isEmpty() ? "" : ", recovered from: " + r.failures().stream()
                            .map(Throwable::getMessage).toList()));
            code = 0;
        } catch (RuntimeException e) {
            System.err.println("senseflow data-parallel run failed: " + e.getMessage());
            code = DataParallelWorker.EXIT_FAILED;
        }
        System.exit(code);
    }

    /**
     * @param args the command line of {@link #main}
     * @return the launcher it describes
     * @throws InvalidRequestException naming the flag that is missing or malformed, or the job class
     */
    public static DataParallelLauncher parse(String[] args) {
        FlagArguments parsed = FlagArguments.parse(args, "launcher argument");
        java.util.Map<String, String> flags = parsed.flags();
        List<String> job = parsed.job();
        for (String k : flags.keySet()) {
            if (!List.of("workers", "job", "run-dir", "timeout-ms", "checkpoint-every", "fingerprint-every",
                    "max-restarts").contains(k)) {
                throw InvalidRequestException.of("--" + k, "one of --workers, --job, --run-dir, --timeout-ms,"
                        + " --checkpoint-every, --fingerprint-every, --max-restarts", "an unknown flag");
            }
        }
        for (String required : List.of("workers", "job", "run-dir")) {
            if (!flags.containsKey(required)) {
                throw InvalidRequestException.of("--" + required, "a value", "none");
            }
        }
        Class<?> jobClass;
        try {
            Class<?> c = Class.forName(flags.get("job"));
            if (!DataParallelJob.class.isAssignableFrom(c) && !DataParallelProgram.class.isAssignableFrom(c)) {
                throw InvalidRequestException.of("--job", "a class implementing " + DataParallelJob.class.getName()
                        + " or " + DataParallelProgram.class.getName(), flags.get("job"));
            }
            jobClass = c;
        } catch (ClassNotFoundException e) {
            throw InvalidRequestException.of("--job", "a class on the class path", flags.get("job"));
        }
        Builder b = builder().workers(Math.toIntExact(number(flags, "workers", 0))).jobClassName(jobClass.getName())
                .runDir(Path.of(flags.get("run-dir"))).jobArguments(job)
                .collectiveTimeout(Duration.ofMillis(number(flags, "timeout-ms", 60_000)))
                .checkpointEvery(number(flags, "checkpoint-every", 0))
                .fingerprintEvery(number(flags, "fingerprint-every", 10))
                .maxRestarts(Math.toIntExact(number(flags, "max-restarts", 2)));
        return b.build();
    }

    private static long number(java.util.Map<String, String> flags, String key, long dflt) {
        String v = flags.get(key);
        if (v == null) {
            return dflt;
        }
        try {
            return Long.parseLong(v);
        } catch (NumberFormatException e) {
            throw InvalidRequestException.of("--" + key, "an integer", v);
        }
    }

    /** Builder for {@link DataParallelLauncher}. */
    public static final class Builder {
        private int workers = 2;
        private String jobClass;
        private List<String> jobArguments = List.of();
        private Path runDir;
        private Duration collectiveTimeout = Duration.ofSeconds(60);
        private Duration grace = Duration.ofSeconds(5);
        private Duration attemptTimeout;
        private int maxRestarts = 2;
        private long checkpointEvery;
        private long fingerprintEvery = 10;
        private List<String> javaOptions = List.of();
        private String classPath = System.getProperty("java.class.path");
        private AttemptListener listener;

        /** @param n worker JVMs (at least 1) @return this */
        public Builder workers(int n) {
            if (n < 1) {
                throw InvalidRequestException.of("workers", "at least 1", n);
            }
            workers = n;
            return this;
        }

        /** @param job the job class (public, no-argument constructor, on the class path) @return this */
        public Builder job(Class<? extends DataParallelJob> job) {
            jobClass = job.getName();
            return this;
        }

        /**
         * @param program a program that runs its own loop in every worker (public, no-argument constructor, on the
         *     class path), instead of a {@link #job}
         * @return this
         */
        public Builder program(Class<? extends DataParallelProgram> program) {
            jobClass = program.getName();
            return this;
        }

        private Builder jobClassName(String name) {
            jobClass = name;
            return this;
        }

        /** @param args the job's arguments, given to every worker @return this */
        public Builder jobArguments(List<String> args) {
            jobArguments = List.copyOf(args);
            return this;
        }

        /** @param dir the run folder (checkpoints, worker logs and status files) @return this */
        public Builder runDir(Path dir) {
            runDir = dir;
            return this;
        }

        /** @param t bound of every collective in the workers (default 60 s) @return this */
        public Builder collectiveTimeout(Duration t) {
            collectiveTimeout = Objects.requireNonNull(t);
            return this;
        }

        /** @param t extra time the others get to exit after a failure (default 5 s) @return this */
        public Builder grace(Duration t) {
            grace = Objects.requireNonNull(t);
            return this;
        }

        /** @param t bound of one attempt (start to end), or null for none (the default) @return this */
        public Builder attemptTimeout(Duration t) {
            attemptTimeout = t;
            return this;
        }

        /** @param n restarts from the last checkpoint after retryable failures (default 2) @return this */
        public Builder maxRestarts(int n) {
            if (n < 0) {
                throw InvalidRequestException.of("maxRestarts", "0 or more", n);
            }
            maxRestarts = n;
            return this;
        }

        /** @param n iterations between checkpoints (0: only at the end) @return this */
        public Builder checkpointEvery(long n) {
            checkpointEvery = n;
            return this;
        }

        /** @param n iterations between fingerprint checks (default 10; 0: only at checkpoints) @return this */
        public Builder fingerprintEvery(long n) {
            fingerprintEvery = n;
            return this;
        }

        /** @param options JVM options of the workers (e.g. {@code -Xmx2g}) @return this */
        public Builder javaOptions(List<String> options) {
            javaOptions = List.copyOf(options);
            return this;
        }

        /** @param cp the workers' class path (default: this JVM's) @return this */
        public Builder classPath(String cp) {
            classPath = Objects.requireNonNull(cp);
            return this;
        }

        /** @param l called after each start of the workers @return this */
        public Builder onAttempt(AttemptListener l) {
            listener = l;
            return this;
        }

        /** @return the launcher */
        public DataParallelLauncher build() {
            if (jobClass == null) {
                throw InvalidRequestException.of("job", "a DataParallelJob class", "none");
            }
            if (runDir == null) {
                throw InvalidRequestException.of("runDir", "a folder", "none");
            }
            return new DataParallelLauncher(this);
        }
    }
}
