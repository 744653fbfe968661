package io.senseflow.onnx.runtime;

import io.senseflow.InvalidRequestException;
import java.time.Duration;
import java.util.Objects;

/**
 * How ONNX Runtime sessions are created: threads, graph optimisation and execution provider. Immutable; build one
 * with {@link #builder()} or start from {@link #defaults()} / {@link #cuda(int)}.
 *
 * <p>{@link ExecutionProvider#CUDA} is a request, not a promise: the runtime tries to create the session with the
 * CUDA provider and, on any failure (CPU-only artifact, missing CUDA or cuDNN libraries, a bad device id, out of
 * memory), creates it on the CPU instead and logs one warning per distinct configuration and process.
 * {@link OrtModel#executionInfo()} says what a session actually runs on. ONNX Runtime's own list of available
 * providers is not consulted: the GPU artifact lists CUDA even where the CUDA libraries cannot be loaded.
 *
 * <p>{@link #runTimeout()} bounds every run of the sessions made with this configuration: when it passes, ONNX Runtime
 * is told to terminate the run (it stops between operators) and the call fails with a
 * {@link io.senseflow.DeadlineExceededException}; the session stays usable. {@link OrtModel#run(OrtInputs,
 * java.util.Collection, Duration)} sets a limit per call instead.
 *
 * <p>Threads on the CPU: each session owns its intra-op thread pool. Its idle workers spin while the session runs
 * (the next operator's work arrives within microseconds) and, by default, stop spinning and sleep as soon as the run
 * returns ({@link #spinBetweenRuns()} false: ONNX Runtime's {@code session.force_spinning_stop}). ONNX Runtime's own
 * default keeps each worker spinning for about 2<sup>20</sup> pause instructions (33–36 ms of a core, measured on an
 * AMD EPYC) after every run, and a pipeline has several sessions (text encoder, transformer, decoder; a teacher and a
 * student): on a machine with few cores their spinning workers took the cores from the session that runs next, which
 * made the transformer runs of short calls cost two to four times as much (docs/performance.md, "The few-step promise
 * on an AMD EPYC"). The spinning settings only change when idle workers sleep, never what a run computes: results are
 * the same bits with each of them.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class SessionConfig {
    private final int intraOpThreads;
    private final int interOpThreads;
    private final OptimizationLevel optimizationLevel;
    private final ExecutionProvider executionProvider;
    private final int deviceId;
    private final long cudaMemoryLimitBytes;
    private final boolean deterministicCompute;
    private final Duration runTimeout;
    private final boolean allowSpinning;
    private final boolean spinBetweenRuns;

    private SessionConfig(Builder b) {
        this.intraOpThreads = b.intraOpThreads;
        this.interOpThreads = b.interOpThreads;
        this.optimizationLevel = b.optimizationLevel;
        this.executionProvider = b.executionProvider;
        this.deviceId = b.deviceId;
        this.cudaMemoryLimitBytes = b.cudaMemoryLimitBytes;
        this.deterministicCompute = b.deterministicCompute;
        this.runTimeout = b.runTimeout;
        this.allowSpinning = b.allowSpinning;
        this.spinBetweenRuns = b.spinBetweenRuns;
    }

    /** @return CPU, ONNX Runtime's default thread counts, all graph optimisations */
    public static SessionConfig defaults() {
        return builder().build();
    }

    /** @param deviceId the CUDA device @return the defaults with the CUDA provider requested on that device */
    public static SessionConfig cuda(int deviceId) {
        return builder().executionProvider(ExecutionProvider.CUDA).deviceId(deviceId).build();
    }

    /** @return a builder with the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder starting from this configuration */
    public Builder toBuilder() {
        return new Builder()
                .intraOpThreads(intraOpThreads)
                .interOpThreads(interOpThreads)
                .optimizationLevel(optimizationLevel)
                .executionProvider(executionProvider)
                .deviceId(deviceId)
                .cudaMemoryLimitBytes(cudaMemoryLimitBytes)
                .deterministicCompute(deterministicCompute)
                .runTimeout(runTimeout)
                .allowSpinning(allowSpinning)
                .spinBetweenRuns(spinBetweenRuns);
    }

    /** @return threads used inside one operator; 0 lets ONNX Runtime choose (one per physical core) */
    public int intraOpThreads() {
        return intraOpThreads;
    }

    /** @return threads used to run independent operators in parallel; 0 lets ONNX Runtime choose */
    public int interOpThreads() {
        return interOpThreads;
    }

    /** @return the graph optimisation level */
    public OptimizationLevel optimizationLevel() {
        return optimizationLevel;
    }

    /** @return the requested execution provider */
    public ExecutionProvider executionProvider() {
        return executionProvider;
    }

    /** @return the CUDA device id (ignored on CPU) */
    public int deviceId() {
        return deviceId;
    }

    /**
     * @return the CUDA memory arena limit in bytes, 0 for none. Set it when TensorFlow shares the GPU, so neither
     *     engine takes all device memory.
     */
    public long cudaMemoryLimitBytes() {
        return cudaMemoryLimitBytes;
    }

    /** @return whether ONNX Runtime is asked to use deterministic kernels where it has a choice */
    public boolean deterministicCompute() {
        return deterministicCompute;
    }

    /**
     * @return the time limit of each run, {@link Duration#ZERO} for none (the default). Checked by ONNX Runtime between
     *     operators, so a single very long operator finishes before the run stops.
     */
    public Duration runTimeout() {
        return runTimeout;
    }

    /**
     * @return whether ONNX Runtime's intra-op worker threads spin while waiting for work (its default). Spinning
     *     saves the wake-up latency on a machine with cores to spare; where the cores are shared with other busy
     *     processes it burns their time instead (docs/performance.md, "Threads").
     */
    public boolean allowSpinning() {
        return allowSpinning;
    }

    /**
     * @return whether idle intra-op workers keep spinning after a run returns, until ONNX Runtime's spin budget runs
     *     out (ONNX Runtime's default), instead of going to sleep at once (the SDK's default: false). Only matters when
     *     {@link #allowSpinning()} is on. Turn it on for a single session that is called back to back with nothing
     *     else running in the process, where the next run then finds its workers awake.
     */
    public boolean spinBetweenRuns() {
        return spinBetweenRuns;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof SessionConfig)) {
            return false;
        }
        SessionConfig c = (SessionConfig) o;
        return intraOpThreads == c.intraOpThreads && interOpThreads == c.interOpThreads
                && optimizationLevel == c.optimizationLevel && executionProvider == c.executionProvider
                && deviceId == c.deviceId && cudaMemoryLimitBytes == c.cudaMemoryLimitBytes
                && deterministicCompute == c.deterministicCompute && runTimeout.equals(c.runTimeout)
                && allowSpinning == c.allowSpinning && spinBetweenRuns == c.spinBetweenRuns;
    }

    @Override
    public int hashCode() {
        return Objects.hash(intraOpThreads, interOpThreads, optimizationLevel, executionProvider, deviceId,
                cudaMemoryLimitBytes, deterministicCompute, runTimeout, allowSpinning, spinBetweenRuns);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("SessionConfig{provider=").append(executionProvider);
        if (executionProvider == ExecutionProvider.CUDA) {
            sb.append(", device=").append(deviceId);
            if (cudaMemoryLimitBytes > 0) {
                sb.append(", cudaMemoryLimit=").append(cudaMemoryLimitBytes);
            }
        }
        return sb.append(", intraOpThreads=").append(intraOpThreads)
                .append(", interOpThreads=").append(interOpThreads)
                .append(", optimization=").append(optimizationLevel)
                .append(deterministicCompute ? ", deterministic" : "")
                .append(runTimeout.isZero() ? "" : ", runTimeout=" + runTimeout)
                .append(allowSpinning ? (spinBetweenRuns ? ", spinning between runs" : "") : ", no spinning")
                .append('}').toString();
    }

    /** Builds a {@link SessionConfig}; every setter checks its argument. */
    public static final class Builder {
        private int intraOpThreads;
        private int interOpThreads;
        private OptimizationLevel optimizationLevel = OptimizationLevel.ALL;
        private ExecutionProvider executionProvider = ExecutionProvider.CPU;
        private int deviceId;
        private long cudaMemoryLimitBytes;
        private boolean deterministicCompute;
        private Duration runTimeout = Duration.ZERO;
        private boolean allowSpinning = true;
        private boolean spinBetweenRuns;

        private Builder() {
        }

        /** @param threads threads per operator, 0 for ONNX Runtime's choice @return this builder */
        public Builder intraOpThreads(int threads) {
            this.intraOpThreads = nonNegative("intraOpThreads", threads);
            return this;
        }

        /** @param threads threads across operators, 0 for ONNX Runtime's choice @return this builder */
        public Builder interOpThreads(int threads) {
            this.interOpThreads = nonNegative("interOpThreads", threads);
            return this;
        }

        /** @param level the graph optimisation level @return this builder */
        public Builder optimizationLevel(OptimizationLevel level) {
            this.optimizationLevel = Objects.requireNonNull(level, "optimizationLevel");
            return this;
        }

        /** @param provider the requested provider @return this builder */
        public Builder executionProvider(ExecutionProvider provider) {
            this.executionProvider = Objects.requireNonNull(provider, "executionProvider");
            return this;
        }

        /** @param id the CUDA device id @return this builder */
        public Builder deviceId(int id) {
            this.deviceId = nonNegative("deviceId", id);
            return this;
        }

        /** @param bytes the CUDA arena limit, 0 for none @return this builder */
        public Builder cudaMemoryLimitBytes(long bytes) {
            if (bytes < 0) {
                throw InvalidRequestException.of("cudaMemoryLimitBytes", "a non-negative byte count (0 = no limit)", bytes);
            }
            this.cudaMemoryLimitBytes = bytes;
            return this;
        }

        /** @param on whether to ask for deterministic kernels @return this builder */
        public Builder deterministicCompute(boolean on) {
            this.deterministicCompute = on;
            return this;
        }

        /**
         * @param timeout the time limit of each run, {@link Duration#ZERO} for none
         * @return this builder
         */
        public Builder runTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "runTimeout");
            if (timeout.isNegative()) {
                throw InvalidRequestException.of("runTimeout", "a non-negative duration (0 = no limit)", timeout);
            }
            this.runTimeout = timeout;
            return this;
        }

        /**
         * @param on whether intra-op worker threads spin while waiting for work (ONNX Runtime's default: true)
         * @return this builder
         */
        public Builder allowSpinning(boolean on) {
            this.allowSpinning = on;
            return this;
        }

        /**
         * @param on whether idle intra-op workers keep spinning after a run returns (ONNX Runtime's default) instead of
         *     sleeping at once (the SDK's default: false)
         * @return this builder
         */
        public Builder spinBetweenRuns(boolean on) {
            this.spinBetweenRuns = on;
            return this;
        }

        /** @return the configuration */
        public SessionConfig build() {
            return new SessionConfig(this);
        }

        private static int nonNegative(String field, int value) {
            if (value < 0) {
                throw InvalidRequestException.of(field, "a non-negative number (0 = ONNX Runtime's default)", value);
            }
            return value;
        }
    }
}
