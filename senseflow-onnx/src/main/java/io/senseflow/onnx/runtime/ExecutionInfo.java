package io.senseflow.onnx.runtime;

import java.util.Objects;
import java.util.Optional;

/**
 * What a session was asked to run on and what it runs on.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param requested the provider the configuration asked for
 * @param active the provider the session was created with
 * @param fallbackReason why the requested provider could not be used, or null when it is active
 */
public record ExecutionInfo(ExecutionProvider requested, ExecutionProvider active, String fallbackReason) {
    /** Checks the fields. */
    public ExecutionInfo {
        Objects.requireNonNull(requested, "requested");
        Objects.requireNonNull(active, "active");
    }

    /** @return whether the session runs on a different provider than requested */
    public boolean fellBack() {
        return requested != active;
    }

    /** @return the reason for falling back, if it did */
    public Optional<String> fallback() {
        return Optional.ofNullable(fallbackReason);
    }
}
