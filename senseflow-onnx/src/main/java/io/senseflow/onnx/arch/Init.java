package io.senseflow.onnx.arch;

/**
 * How an architecture builder initialises its parameters. Both modes are seeded and deterministic.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum Init {
    /**
     * The training initialisation: fan-in scaled normal weights, zero biases, unit norm scales, and for the flow
     * transformer adaLN-Zero (modulation linears and the final linear are zero, so a fresh model outputs 0).
     */
    DEFAULT,
    /**
     * Every parameter random, including the ones {@link #DEFAULT} sets to zero or one (biases get N(0, 0.1²), norm
     * scales 1 + N(0, 0.1²), fixed tables a N(0, 0.1²) perturbation). For tests that compare engines: with
     * {@link #DEFAULT} the transformer's output is 0 whatever its inputs, which proves nothing.
     */
    RANDOM_ALL
}
