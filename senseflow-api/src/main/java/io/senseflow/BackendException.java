package io.senseflow;

/**
 * An inference or training engine failed while running a model that loaded correctly.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class BackendException extends SenseFlowException {
    private static final long serialVersionUID = 1L;

    public BackendException(String message) {
        super(message);
    }

    public BackendException(String message, Throwable cause) {
        super(message, cause);
    }
}
