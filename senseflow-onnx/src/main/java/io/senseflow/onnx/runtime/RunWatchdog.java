package io.senseflow.onnx.runtime;

import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * Terminates ONNX Runtime runs whose time limit passes: one daemon timer thread for the process (started by the first
 * run with a limit, never by class loading), which sets {@code RunOptions.setTerminate(true)}; ONNX Runtime checks the
 * flag between operators and fails the run. The run options are native: the timer only touches them while the run
 * that owns them is still in flight (both sides synchronise on the {@link Limit}).
 */
final class RunWatchdog {
    private RunWatchdog() {
    }

    private static final class Timer {
        static final ScheduledThreadPoolExecutor EXECUTOR = create();

        private static ScheduledThreadPoolExecutor create() {
            ThreadFactory daemon = r -> {
                Thread t = new Thread(r, "senseflow-ort-run-watchdog");
                t.setDaemon(true);
                return t;
            };
            ScheduledThreadPoolExecutor e = new ScheduledThreadPoolExecutor(1, daemon);
            e.setRemoveOnCancelPolicy(true); // runs that finish in time leave nothing queued
            return e;
        }
    }

    /** The time limit of one run: arm it before the run, {@link #close()} it (before the run options) after. */
    static final class Limit implements AutoCloseable {
        private final OrtSession.RunOptions options;
        private final ScheduledFuture<?> timer;
        private boolean done;
        private boolean fired;

        private Limit(OrtSession.RunOptions options, long nanos) {
            this.options = options;
            this.timer = Timer.EXECUTOR.schedule(this::terminate, nanos, TimeUnit.NANOSECONDS);
        }

        private synchronized void terminate() {
            if (done) {
                return;
            }
            try {
                options.setTerminate(true);
                fired = true;
            } catch (OrtException e) {
                // the run continues; nothing else can be done from the timer thread
            }
        }

        /** @return whether the limit passed and the run was told to stop */
        synchronized boolean fired() {
            return fired;
        }

        @Override
        public synchronized void close() {
            done = true;
            timer.cancel(false);
        }
    }

    /**
     * @param options the run's options (the caller closes them after the limit)
     * @param nanos the time limit
     * @return the armed limit
     */
    static Limit arm(OrtSession.RunOptions options, long nanos) {
        return new Limit(options, nanos);
    }
}
