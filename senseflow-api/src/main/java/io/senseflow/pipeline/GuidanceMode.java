package io.senseflow.pipeline;

/**
 * How a model takes its guidance scale.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum GuidanceMode {
    /**
     * Classifier-free guidance: the generator runs on {@code [uncond; cond]} in one batch and
     * {@code v = v_u + w (v_c - v_u)}; applied when the scale is above 1 (as diffusers does).
     */
    CFG,
    /** The scale is a model input (FLUX.1-dev's {@code guidance}): passed as the conditioning extra {@code "guidance"}. */
    EMBEDDED,
    /** The model takes no guidance (distilled few-step generators have it built in). */
    NONE
}
