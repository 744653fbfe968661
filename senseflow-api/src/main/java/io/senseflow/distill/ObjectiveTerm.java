package io.senseflow.distill;

import io.senseflow.tensor.Tensor;
import java.util.Map;

/**
 * One generator-side loss term's result: its value and its gradient with respect to the generator's output
 * {@code v_G} (objectives express their gradients there so that terms add up, docs/algorithm.md §4.5).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param name the term's name (metrics key)
 * @param loss the loss value
 * @param gradient {@code dL/dv_G}, shaped like the generator output
 * @param nonFinite non-finite values the term replaced or found (DMD's {@code nan_to_num} count)
 * @param diagnostics extra per-term numbers for logging
 */
public record ObjectiveTerm(String name, double loss, Tensor gradient, int nonFinite, Map<String, Double> diagnostics) {
    public ObjectiveTerm {
        diagnostics = Map.copyOf(diagnostics);
    }

    /** @return the L2 norm of the gradient in output space */
    public double gradientNorm() {
        return Math.sqrt(gradient.sumOfSquares());
    }

    /** @param factor a weight @return this term with loss and gradient multiplied by it */
    public ObjectiveTerm scaled(double factor) {
        return new ObjectiveTerm(name, loss * factor, gradient.scale((float) factor), nonFinite, diagnostics);
    }
}
