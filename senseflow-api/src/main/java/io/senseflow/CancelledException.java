package io.senseflow;

/**
 * A generation or training run stopped because its cancellation token was triggered.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class CancelledException extends SenseFlowException {
    private static final long serialVersionUID = 1L;

    public CancelledException(String message) {
        super(message);
    }
}
