package io.senseflow.bench;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Objects;

/**
 * How a harness run measures.
 *
 * @param threads intra-op threads for ONNX Runtime and TensorFlow (inter-op: 1)
 * @param reps measured repetitions of each case (after one warm-up call)
 * @param workDir where generated model folders are kept between runs
 * @param progress where progress lines go (null: nowhere)
 */
public record BenchSettings(int threads, int reps, Path workDir, PrintStream progress) {
    /** Checks the values. */
    public BenchSettings {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1, got " + threads);
        }
        if (reps < 1) {
            throw new IllegalArgumentException("reps must be at least 1, got " + reps);
        }
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

    /** @param n another thread count @return these settings with it */
    public BenchSettings withThreads(int n) {
        return new BenchSettings(n, reps, workDir, progress);
    }
}
