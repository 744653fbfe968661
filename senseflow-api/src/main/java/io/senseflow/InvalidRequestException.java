package io.senseflow;

/**
 * A request, configuration or argument is invalid; nothing was run.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class InvalidRequestException extends SenseFlowException {
    private static final long serialVersionUID = 1L;

    public InvalidRequestException(String message) {
        super(message);
    }

    public InvalidRequestException(String message, Throwable cause) {
        super(message, cause);
    }

    /**
     * Builds the usual message shape: {@code field: expected X, got Y}.
     *
     * @param field the offending field or argument
     * @param expected what a valid value looks like
     * @param found the value that was given
     * @return the exception, for {@code throw}
     */
    public static InvalidRequestException of(String field, String expected, Object found) {
        return new InvalidRequestException(field + ": expected " + expected + ", got " + found);
    }
}
