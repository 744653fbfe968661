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
 */
public record BenchSettings(int threads, ExecutionProvider provider, int reps, double warmUpSeconds, Path workDir, PrintStream progress) {
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
        return SessionConfig.builder().executionProvider(provider).intraOpThreads(intraOpThreads).interOpThreads(1).build();
    }

    /** @param n another thread count @return these settings with it */
    public BenchSettings withThreads(int n) {
        return new BenchSettings(n, provider, reps, warmUpSeconds, workDir, progress);
    }
}
