package io.senseflow.tf;

import io.senseflow.InvalidRequestException;
import io.senseflow.train.ModuleInputs;

/**
 * How one {@link ModuleInputs} entry feeds a graph input: {@code graphInput = scale * moduleInput}, cast to the
 * graph input's type (float ids for an int64 input, for instance) and reshaped to its shape when only the layout
 * differs ({@code [B, 2, 1, 1]} into {@code [B, 2]}). Input gradients are returned for differentiable bindings,
 * with respect to the module input (so they include the scale).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param moduleInput the {@link ModuleInputs} name ({@code x}, {@code sigma}, ...)
 * @param graphInput the ONNX graph input name
 * @param scale multiplier applied in the graph (1 for none); e.g. 1000 for a timestep in [0, 1000] fed from sigma
 * @param differentiable whether backward returns this input's gradient
 */
public record InputBinding(String moduleInput, String graphInput, double scale, boolean differentiable) {

    public InputBinding {
        if (moduleInput == null || moduleInput.isEmpty() || graphInput == null || graphInput.isEmpty()) {
            throw InvalidRequestException.of("input binding", "non-empty module and graph input names",
                    moduleInput + " -> " + graphInput);
        }
        if (!Double.isFinite(scale) || scale == 0) {
            throw InvalidRequestException.of("input binding scale of " + moduleInput, "a finite non-zero value", scale);
        }
    }

    /**
     * A binding with scale 1; differentiable unless it is the noise level ({@code sigma} or {@code timestep}), as
     * in the reference MLP.
     *
     * @param moduleInput the module input name
     * @param graphInput the graph input name
     * @return the binding
     */
    public static InputBinding of(String moduleInput, String graphInput) {
        boolean noise = moduleInput.equals(ModuleInputs.SIGMA) || moduleInput.equals(ModuleInputs.TIMESTEP);
        return new InputBinding(moduleInput, graphInput, 1, !noise);
    }

    /** @param s the scale @return a copy with that scale */
    public InputBinding scaled(double s) {
        return new InputBinding(moduleInput, graphInput, s, differentiable);
    }

    /** @param on whether to return this input's gradient @return a copy */
    public InputBinding withGradient(boolean on) {
        return new InputBinding(moduleInput, graphInput, scale, on);
    }
}
