package io.senseflow;

/**
 * A model, tokenizer, weight file or folder could not be loaded or does not match what was expected.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class ModelLoadException extends SenseFlowException {
    private static final long serialVersionUID = 1L;

    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
