package io.senseflow.tf.importer;

import io.senseflow.ModelLoadException;

/**
 * An ONNX graph could not be imported into TensorFlow: an operator or attribute value the importer does not
 * handle, a dynamic shape it cannot resolve, an element type TensorFlow Java cannot hold, or a graph TensorFlow
 * rejects. The message names the operator, the node, the opset and what was expected and found.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public class OnnxImportException extends ModelLoadException {
    private static final long serialVersionUID = 1L;

    /** @param message the message */
    public OnnxImportException(String message) {
        super(message);
    }

    /** @param message the message @param cause the cause */
    public OnnxImportException(String message, Throwable cause) {
        super(message, cause);
    }
}
