package io.senseflow.train;

import io.senseflow.tensor.Tensor;
import java.util.Map;

/**
 * Everything an optimizer needs to continue exactly: its step counter and its slot tensors (e.g. Adam's first
 * and second moments, named {@code "m/<param>"} and {@code "v/<param>"}).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param step number of steps taken
 * @param slots slot tensors by name
 */
public record OptimizerState(long step, Map<String, Tensor> slots) {
    public OptimizerState {
        slots = Map.copyOf(slots);
    }
}
