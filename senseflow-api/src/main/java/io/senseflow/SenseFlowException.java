package io.senseflow;

/**
 * Root of every exception the SDK throws on purpose. Unchecked, so callers can catch the whole family in one
 * place; the subclasses say which kind of thing went wrong. Messages name the field or file, what was expected
 * and what was found.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class SenseFlowException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SenseFlowException(String message) {
        super(message);
    }

    public SenseFlowException(String message, Throwable cause) {
        super(message, cause);
    }
}
