package io.senseflow;

/**
 * A run was stopped because its time limit passed (for instance an ONNX Runtime run terminated by
 * {@code SessionConfig.runTimeout}). A kind of {@link CancelledException}: catching that one catches both.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class DeadlineExceededException extends CancelledException {
    private static final long serialVersionUID = 1L;

    public DeadlineExceededException(String message) {
        super(message);
    }
}
