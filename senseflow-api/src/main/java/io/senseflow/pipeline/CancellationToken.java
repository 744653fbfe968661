package io.senseflow.pipeline;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Cooperative cancellation: long-running calls check the token between steps (generation) or iterations
 * (training) and stop with {@link io.senseflow.CancelledException}. Thread-safe; cancel from any thread.
 */
public final class CancellationToken {
    private final AtomicBoolean cancelled = new AtomicBoolean();

    /** Requests cancellation. Idempotent. */
    public void cancel() {
        cancelled.set(true);
    }

    /** @return whether cancellation was requested */
    public boolean isCancelled() {
        return cancelled.get();
    }

    /** @return a token that is never cancelled */
    public static CancellationToken none() {
        return new CancellationToken();
    }
}
