package io.senseflow.train;

import io.senseflow.tensor.Tensor;

/**
 * The contract between the algorithms and a training engine (DESIGN.md, "The seam"): a network that can run
 * forward, run a vector-Jacobian product from an {@link Upstream} gradient, and expose its named parameters and
 * optimizer. Implementations: the pure-Java reference MLP ({@code io.senseflow.reference}) and TensorFlow
 * modules ({@code senseflow-tf}).
 *
 * <p>Gradient lifecycle is explicit: {@link Optimizer#zeroGradients()}, any number of {@code backward} calls in a
 * mode that includes parameters (they accumulate, over loss terms and micro-batches), then
 * {@link Optimizer#clipGradientNorm} and {@link Optimizer#step()}.
 *
 * <p>Not expressible by design: penalties that need a second backward (R1/R2).
 *
 * <p>Called from the training thread only: implementations need not be thread-safe.
 */
public interface DifferentiableModule extends AutoCloseable {

    /**
     * Inference: no state is kept, no gradients change.
     *
     * @param inputs the inputs
     * @return the primary output
     */
    Tensor forward(ModuleInputs inputs);

    /**
     * A vector-Jacobian product. With {@link GradientMode#PARAMETERS} or {@link GradientMode#BOTH} the parameter
     * gradients are added to the module's accumulated gradients; with {@link GradientMode#INPUTS} they are left
     * exactly unchanged.
     *
     * @param inputs the inputs
     * @param upstream the gradient at the output, explicit or an in-graph loss form
     * @param mode which gradients to produce
     * @return loss (in-graph forms), output and input gradients
     */
    BackwardResult backward(ModuleInputs inputs, Upstream upstream, GradientMode mode);

    /** @return the named parameters */
    ParameterStore parameters();

    /** @return the optimizer over exactly this module's parameters (null for a frozen module) */
    Optimizer optimizer();

    /** @return whether this module has trainable parameters */
    default boolean trainable() {
        return optimizer() != null;
    }

    @Override
    void close();
}
