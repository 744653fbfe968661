package io.senseflow.examples.cli;

import io.senseflow.pipeline.CancellationToken;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Turns Ctrl-C (SIGINT, SIGTERM) into a cooperative cancellation for the duration of a long command: the JVM's
 * shutdown hook cancels the token and then waits, up to a limit, until the command has finished its cleanup (a
 * training run saves a checkpoint) before the JVM exits. Close it when the command ends.
 */
final class InterruptGuard implements AutoCloseable {
    private final CancellationToken token = new CancellationToken();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final Thread hook;

    /** @param graceSeconds how long the shutdown may wait for the command's cleanup */
    InterruptGuard(long graceSeconds) {
        hook = new Thread(() -> {
            token.cancel();
            try {
                finished.await(graceSeconds, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "senseflow-interrupt");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** @return the token the hook cancels */
    CancellationToken token() {
        return token;
    }

    @Override
    public void close() {
        finished.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running: it returns now that the command has finished
        }
    }
}
