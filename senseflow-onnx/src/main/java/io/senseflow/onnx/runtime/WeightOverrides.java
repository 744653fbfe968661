package io.senseflow.onnx.runtime;

import java.nio.file.Path;
import java.util.Objects;
import java.util.function.UnaryOperator;

/**
 * Weights that replace a model's own initializers when a session is created: a deployable model is a graph plus a
 * safetensors file. Immutable; the {@code with...} methods return copies.
 *
 * <p>Each tensor of the file replaces the main-graph initializer of the same name (after {@link #withRename}); its
 * shape must equal the initializer's dims, and its dtype must be the initializer's or, for floating-point
 * initializers, any of F32, F16, BF16 and F64 (converted with round to nearest even). ONNX Runtime receives them as
 * external initializers ({@code SessionOptions.addExternalInitializers}), which replace initializers before any graph
 * optimisation, so Conv weights folded by the optimiser are replaced too; the model file is never changed. See
 * {@code docs/models.md}.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class WeightOverrides {
    private final Path file;
    private final UnaryOperator<String> rename;
    private final boolean requireAll;
    private final boolean ignoreUnmatched;

    private WeightOverrides(Path file, UnaryOperator<String> rename, boolean requireAll, boolean ignoreUnmatched) {
        this.file = file;
        this.rename = rename;
        this.requireAll = requireAll;
        this.ignoreUnmatched = ignoreUnmatched;
    }

    /**
     * @param file a safetensors file
     * @return overrides taking every tensor of the file, refusing tensors that match no initializer
     */
    public static WeightOverrides fromSafetensors(Path file) {
        return new WeightOverrides(Objects.requireNonNull(file, "file"), UnaryOperator.identity(), false, false);
    }

    /**
     * @param mapping safetensors name to initializer name; returning null skips the tensor
     * @return a copy using the mapping
     */
    public WeightOverrides withRename(UnaryOperator<String> mapping) {
        return new WeightOverrides(file, Objects.requireNonNull(mapping, "mapping"), requireAll, ignoreUnmatched);
    }

    /**
     * @param on whether every floating-point initializer of the main graph must get a weight from the file (for
     *     graphs exported with placeholder weights)
     * @return a copy with the setting
     */
    public WeightOverrides withRequireAll(boolean on) {
        return new WeightOverrides(file, rename, on, ignoreUnmatched);
    }

    /**
     * @param on whether tensors that match no initializer are skipped instead of refused
     * @return a copy with the setting
     */
    public WeightOverrides withIgnoreUnmatched(boolean on) {
        return new WeightOverrides(file, rename, requireAll, on);
    }

    /** @return the safetensors file */
    public Path file() {
        return file;
    }

    UnaryOperator<String> rename() {
        return rename;
    }

    /** @return whether every floating-point initializer must be replaced */
    public boolean requireAll() {
        return requireAll;
    }

    /** @return whether unmatched tensors are skipped */
    public boolean ignoreUnmatched() {
        return ignoreUnmatched;
    }

    @Override
    public String toString() {
        return "WeightOverrides{" + file + (requireAll ? ", requireAll" : "") + (ignoreUnmatched ? ", ignoreUnmatched" : "") + "}";
    }
}
