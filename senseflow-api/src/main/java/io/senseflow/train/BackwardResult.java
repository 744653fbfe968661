package io.senseflow.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.Map;

/**
 * What a backward pass returns.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param loss the loss value for in-graph upstream forms; NaN for an explicit upstream
 * @param output the module's forward output in the same run
 * @param inputGradients gradients with respect to the inputs by name (empty in {@link GradientMode#PARAMETERS})
 */
public record BackwardResult(double loss, Tensor output, Map<String, Tensor> inputGradients) {
    public BackwardResult {
        inputGradients = Map.copyOf(inputGradients);
    }

    /** @param name input name @return its gradient */
    public Tensor inputGradient(String name) {
        Tensor g = inputGradients.get(name);
        if (g == null) {
            throw InvalidRequestException.of("input gradient '" + name + "'", "present (was the mode INPUTS or BOTH?)",
                    "missing (have " + inputGradients.keySet() + ")");
        }
        return g;
    }
}
