package io.senseflow.bench;

import io.senseflow.onnx.runtime.ExecutionProvider;
import io.senseflow.onnx.runtime.SessionConfig;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Objects;

/**
 * How a harness run measures.
 *
 * @param threads intra-op threads for ONNX Runtime and TensorFlow (inter-op: 1)
 * @param provider ONNX Runtime's execution provider (CUDA falls back to the CPU with a warning where it cannot run;
 *     TensorFlow uses a GPU by itself when its GPU natives load, see docs/training.md)
 * @param reps measured repetitions of each case (after one warm-up call)
 * @param warmUpSeconds how long each sampling configuration is warmed up before it is measured (at least 3 calls;
 *     the JIT compiles the SDK's paths and ONNX Runtime sizes its buffers meanwhile)
 * @param workDir where generated model folders are kept between runs
 * @param progress where progress lines go (null: nowhere)
 * @param spin how ONNX Runtime's idle intra-op workers wait for work (the sampling, overhead and scaling suites; the
 *     threads suite compares settings itself)
 */
public record BenchSettings(int threads, ExecutionProvider provider, int reps, double warmUpSeconds, Path workDir,
                            PrintStream progress, Spin spin) {
    /** How idle intra-op workers wait: {@link io.senseflow.onnx.runtime.SessionConfig}'s spinning settings. */
    public enum Spin {
        /** Spin while a run is in progress, sleep when it returns: the SDK's default. */
        WITHIN_RUNS,
        /** Keep spinning after each run too (ONNX Runtime's own default, the SDK's before). */
        ALWAYS,
        /** Never spin: sleep whenever there is no work. */
        OFF;

        /** @param id "within-runs", "always" or "off", any case @return the setting */
        public static Spin of(String id) {
            return valueOf(id.strip().toUpperCase(java.util.Locale.ROOT).replace('-', '_'));
        }

        /** @return the command-line spelling */
        public String id() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    /** The settings with the SDK's default spinning ({@link Spin#WITHIN_RUNS}). */
    public BenchSettings(int threads, ExecutionProvider provider, int reps, double warmUpSeconds, Path workDir,
                         PrintStream progress) {
        this(threads, provider, reps, warmUpSeconds, workDir, progress, Spin.WITHIN_RUNS);
    }

    /** Checks the values. */
    public BenchSettings {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        if (reps < 1) {
            throw new IllegalArgumentException("reps must be at least 1, got " + reps);
        }
        if (!(warmUpSeconds >= 0)) {
            throw new IllegalArgumentException("warmUpSeconds must be >= 0, got " + warmUpSeconds);
        }
        Objects.requireNonNull(provider, "provider");
        Objects.requireNonNull(workDir, "workDir");
        Objects.requireNonNull(spin, "spin");
    }

    /** @param format a progress line @param args its arguments */
    void log(String format, Object... args) {
        if (progress != null) {
            progress.printf(java.util.Locale.ROOT, "[bench %s, load %s] %s%n", java.time.LocalTime.now().withNano(0),
                    Machine.load(), String.format(java.util.Locale.ROOT, format, args));
            progress.flush();
        }
    }

    /** @param intraOpThreads threads per operator @return the ONNX Runtime session settings */
    public SessionConfig sessionConfig(int intraOpThreads) {
        return SessionConfig.builder().executionProvider(provider).intraOpThreads(intraOpThreads).interOpThreads(1)
                .allowSpinning(spin != Spin.OFF).spinBetweenRuns(spin == Spin.ALWAYS).build();
    }

    /** @param n another thread count @return these settings with it */
    public BenchSettings withThreads(int n) {
        return new BenchSettings(n, provider, reps, warmUpSeconds, workDir, progress, spin);
    }
}
