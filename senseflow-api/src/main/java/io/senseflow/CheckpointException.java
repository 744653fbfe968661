package io.senseflow;

/**
 * A checkpoint or export could not be written, read or verified. Previous files are left intact.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class CheckpointException extends SenseFlowException {
    private static final long serialVersionUID = 1L;

    public CheckpointException(String message) {
        super(message);
    }

    public CheckpointException(String message, Throwable cause) {
        super(message, cause);
    }
}
