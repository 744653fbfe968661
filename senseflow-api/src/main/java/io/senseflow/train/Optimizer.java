package io.senseflow.train;

import io.senseflow.BackendException;
import io.senseflow.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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

    /**
     * Reads several accumulated gradients at once (one engine call where the engine allows it).
     *
     * @param names parameter names
     * @return their gradients, in the order given
     */
    default Map<String, Tensor> gradients(List<String> names) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String n : names) {
            out.put(n, gradient(n));
        }
        return out;
    }

    /**
     * Overwrites accumulated gradients, e.g. with their mean over data-parallel workers
     * ({@link GradientReducer}). Optimizers that cannot do this refuse data-parallel training.
     *
     * @param values new gradient per parameter name, each of its parameter's shape
     * @throws BackendException if this optimizer does not support it
     */
    default void replaceGradients(Map<String, Tensor> values) {
        throw new BackendException(getClass().getSimpleName() + " cannot overwrite its accumulated gradients, so it"
                + " cannot take part in data-parallel training (Optimizer.replaceGradients)");
    }
}
