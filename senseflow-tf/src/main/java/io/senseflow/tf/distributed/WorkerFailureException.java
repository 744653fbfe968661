package io.senseflow.tf.distributed;

import io.senseflow.SenseFlowException;

/**
 * A data-parallel run stopped because a worker failed: it died (killed, crashed), hung (did not reach a collective
 * within the timeout), hit non-finite values, or failed otherwise. Names the worker and the cause; the other workers
 * were stopped.
 */
public class WorkerFailureException extends SenseFlowException {
    private static final long serialVersionUID = 1L;
    private final int worker;
    private final Cause cause;
    private final boolean retryable;

    /** What went wrong with the worker. */
    public enum Cause {
        /** the process ended without reporting (killed by a signal, crashed, out of memory) */
        DIED,
        /** the process stayed alive but stopped taking part (stopped, deadlocked, far too slow) */
        HUNG,
        /** non-finite values (the distiller's NaN/Inf check) */
        NON_FINITE,
        /** the parameters of the workers differ (the periodic fingerprint check) */
        DIVERGED,
        /** a collective failed without a clearer culprit (network) */
        COLLECTIVE,
        /** any other error the worker reported (bad input, disk full, ...) */
        ERROR
    }

    /**
     * @param worker the failed worker's task index
     * @param cause what happened
     * @param retryable whether a restart from the last checkpoint can help (not for deterministic failures)
     * @param message the details
     */
    public WorkerFailureException(int worker, Cause cause, boolean retryable, String message) {
        super("data-parallel worker " + worker + " " + cause.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-')
                + ": " + message);
        this.worker = worker;
        this.cause = cause;
        this.retryable = retryable;
    }

    /** @return the failed worker's task index */
    public int worker() {
        return worker;
    }

    /** @return what happened */
    public Cause failure() {
        return cause;
    }

    /** @return whether a restart from the last checkpoint can help */
    public boolean retryable() {
        return retryable;
    }
}
