package io.senseflow.json;

import io.senseflow.SenseFlowException;

/**
 * Malformed JSON, or a JSON value of the wrong kind. Loaders catch it and rethrow as their own typed exception
 * naming the file.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class JsonException extends SenseFlowException {
    private static final long serialVersionUID = 1L;

    public JsonException(String message) {
        super(message);
    }
}
