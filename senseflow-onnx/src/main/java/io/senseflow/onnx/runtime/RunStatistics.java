package io.senseflow.onnx.runtime;

/**
 * Cumulative timings of an {@link OrtModel}'s runs since it was loaded, for measuring what the SDK adds around ONNX
 * Runtime (the {@code bench} harness reports it as the SDK's overhead). Take one before and one after the work and
 * subtract.
 *
 * @param runs completed runs
 * @param sessionNanos time inside ONNX Runtime's {@code OrtSession.run}
 * @param totalNanos time inside {@link OrtModel#run}: the session run plus the checks and conversions around it
 * @param sessionCpuNanos CPU time of the calling threads inside ONNX Runtime's {@code OrtSession.run} (ONNX Runtime
 *     computes on the calling thread too). With the calling thread's CPU time over a whole task (a {@code generate}
 *     call) it splits that thread's work into ONNX Runtime's and the rest, which other processes on the machine
 *     inflate far less than wall time
 */
public record RunStatistics(long runs, long sessionNanos, long totalNanos, long sessionCpuNanos) {
    /** No runs. */
    public static final RunStatistics NONE = new RunStatistics(0, 0, 0, 0);

    /**
     * Statistics without the CPU time split (0).
     *
     * @param runs completed runs
     * @param sessionNanos time inside the session run
     * @param totalNanos time inside {@link OrtModel#run}
     */
    public RunStatistics(long runs, long sessionNanos, long totalNanos) {
        this(runs, sessionNanos, totalNanos, 0);
    }

    /** @param earlier statistics taken before @return what happened since */
    public RunStatistics minus(RunStatistics earlier) {
        return new RunStatistics(runs - earlier.runs, sessionNanos - earlier.sessionNanos, totalNanos - earlier.totalNanos,
                sessionCpuNanos - earlier.sessionCpuNanos);
    }

    /** @param other more statistics @return the sum */
    public RunStatistics plus(RunStatistics other) {
        return new RunStatistics(runs + other.runs, sessionNanos + other.sessionNanos, totalNanos + other.totalNanos,
                sessionCpuNanos + other.sessionCpuNanos);
    }

    /** @return time spent in the SDK's boundary code: checks, input conversions, output copies */
    public long boundaryNanos() {
        return totalNanos - sessionNanos;
    }
}
