package io.senseflow.train;

import io.senseflow.tensor.Tensor;

/**
 * The optimizer of one module, with an explicit gradient lifecycle: {@link #zeroGradients()}, accumulation by the
 * module's backward passes, {@link #clipGradientNorm}, {@link #step()}.
 *
 * <p>Called from the training thread only: implementations need not be thread-safe.
 */
public interface Optimizer {

    /** Sets the accumulated gradients to zero. */
    void zeroGradients();

    /** @param name parameter name @return its accumulated gradient */
    Tensor gradient(String name);

    /** @return the global L2 norm of the accumulated gradients */
    double gradientNorm();

    /**
     * Scales the accumulated gradients so their global L2 norm is at most {@code maxNorm}.
     *
     * @param maxNorm the bound; non-positive or infinite disables clipping
     * @return the norm before clipping
     */
    double clipGradientNorm(double maxNorm);

    /** Applies one update with the accumulated gradients and advances the step counter. */
    void step();

    /** @return steps taken */
    long stepCount();

    /** @return the learning rate the next {@link #step()} will use */
    double learningRate();

    /** @return the state for a checkpoint */
    OptimizerState state();

    /** @param state a state from {@link #state()} of an optimizer over the same parameters */
    void restore(OptimizerState state);
}
