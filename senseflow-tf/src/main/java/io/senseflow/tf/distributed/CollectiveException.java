package io.senseflow.tf.distributed;

import io.senseflow.BackendException;

/**
 * A collective (all-reduce, gather) did not complete: a peer died, hung past the timeout, or the network failed.
 * After this the process's TensorFlow collectives stay broken (TensorFlow keeps the aborted group), so the worker
 * has to exit and be restarted; {@link DataParallelLauncher} does that from the last checkpoint.
 */
public class CollectiveException extends BackendException {
    private static final long serialVersionUID = 1L;
    private final int task;
    private final boolean timedOut;

    /**
     * @param task the task that saw the failure
     * @param message what failed
     * @param timedOut whether the collective ran past its timeout (a hung or very slow peer)
     * @param cause the engine's error
     */
    public CollectiveException(int task, String message, boolean timedOut, Throwable cause) {
        super(message, cause);
        this.task = task;
        this.timedOut = timedOut;
    }

    /** @return the task that saw the failure (not necessarily the one that caused it) */
    public int task() {
        return task;
    }

    /** @return whether the collective ran past its timeout */
    public boolean timedOut() {
        return timedOut;
    }
}
