package io.senseflow.pipeline;

import io.senseflow.InvalidRequestException;

/**
 * A model's defaults for what a request leaves unset.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param steps sampling steps
 * @param guidanceScale guidance scale
 * @param width width in pixels
 * @param height height in pixels
 */
public record ModelDefaults(int steps, double guidanceScale, int width, int height) {
    public ModelDefaults {
        if (steps < 1 || !(guidanceScale >= 0) || width < 1 || height < 1) {
            throw InvalidRequestException.of("model defaults", "steps >= 1, guidance >= 0, positive size",
                    steps + ", " + guidanceScale + ", " + width + "x" + height);
        }
    }
}
