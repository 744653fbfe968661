package io.senseflow.schedule;

/**
 * How a flow scheduler moves from one noise level to the next (docs/algorithm.md §2, §3).
 *
 * <p>Immutable: safe to share between threads.
 */
public enum SamplingMode {
    /** Deterministic Euler step on the velocity: {@code x + (s_next - s) v}. */
    EULER,
    /**
     * Predict the clean sample {@code x0 = x - s v}, then re-noise it with fresh noise:
     * {@code (1 - s_next) x0 + s_next eps}. The default sampler of few-step SenseFlow/DMD2 generators.
     */
    STOCHASTIC
}
