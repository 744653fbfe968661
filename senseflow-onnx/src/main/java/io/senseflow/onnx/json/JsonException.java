package io.senseflow.onnx.json;

import io.senseflow.SenseFlowException;

/**
 * JSON text is malformed, or a JSON value does not have the kind or range a caller asked for. Callers that read
 * files wrap it into an exception that names the file (for example {@link io.senseflow.ModelLoadException}).
 */
public class JsonException extends SenseFlowException {
    private static final long serialVersionUID = 1L;

    /** @param message what was wrong, and where */
    public JsonException(String message) {
        super(message);
    }
}
