package io.senseflow.onnx.runtime;

import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;

/**
 * ONNX Runtime's graph optimisation levels.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum OptimizationLevel {
    /** No graph rewrites: the graph runs as written (useful when comparing against another engine op by op). */
    NONE(OptLevel.NO_OPT),
    /** Constant folding and redundant-node elimination. */
    BASIC(OptLevel.BASIC_OPT),
    /** Adds node fusions (for example attention and layer-norm fusions). */
    EXTENDED(OptLevel.EXTENDED_OPT),
    /** Everything, including layout optimisations; ONNX Runtime's default. */
    ALL(OptLevel.ALL_OPT);

    private final OptLevel ort;

    OptimizationLevel(OptLevel ort) {
        this.ort = ort;
    }

    OptLevel ort() {
        return ort;
    }
}
