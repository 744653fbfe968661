package io.senseflow.tf.importer;

/**
 * The graph uses an operator (or operator domain) the importer has no handler for.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public final class UnsupportedOperatorException extends OnnxImportException {
    private static final long serialVersionUID = 1L;
    private final String opType;
    private final String domain;
    private final String node;
    private final long opset;

    /**
     * @param opType the operator
     * @param domain its domain ("" for ONNX)
     * @param node the node name (or its first output when unnamed)
     * @param opset the opset of that domain
     * @param supported the supported operators, for the message
     */
    public UnsupportedOperatorException(String opType, String domain, String node, long opset, String supported) {
        super("ONNX import: operator " + (domain.isEmpty() ? "" : domain + ".") + opType + " (opset " + opset
                + ") at node '" + node + "' is not supported by the TensorFlow importer; supported: " + supported);
        this.opType = opType;
        this.domain = domain;
        this.node = node;
        this.opset = opset;
    }

    /** @return the operator */
    public String opType() {
        return opType;
    }

    /** @return the domain */
    public String domain() {
        return domain;
    }

    /** @return the node */
    public String node() {
        return node;
    }

    /** @return the opset */
    public long opset() {
        return opset;
    }
}
