package io.senseflow.onnx.ir;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One operator call in a graph ({@code NodeProto}).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param opType the operator, such as {@code "MatMul"}
 * @param inputs input value names in operator order; an empty name marks an omitted optional input
 * @param outputs output value names
 * @param name the node name, may be empty
 * @param domain the operator domain, empty for the default ONNX domain
 * @param attributes the attributes, in order
 * @param docString documentation, empty when absent
 * @param unknownFields fields this SDK does not model, kept verbatim
 */
public record OnnxNode(String opType, List<String> inputs, List<String> outputs, String name, String domain,
                       List<OnnxAttribute> attributes, String docString, UnknownFields unknownFields) {
    /** Checks and copies the fields. */
    public OnnxNode {
        Objects.requireNonNull(opType, "opType");
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(domain, "domain");
        attributes = List.copyOf(attributes);
        Objects.requireNonNull(docString, "docString");
        Objects.requireNonNull(unknownFields, "unknownFields");
    }

    /**
     * A node without documentation or unknown fields.
     *
     * @param opType the operator
     * @param inputs input value names
     * @param outputs output value names
     * @param name the node name
     * @param domain the operator domain ("" for ONNX)
     * @param attributes the attributes
     */
    public OnnxNode(String opType, List<String> inputs, List<String> outputs, String name, String domain,
                    List<OnnxAttribute> attributes) {
        this(opType, inputs, outputs, name, domain, attributes, "", UnknownFields.EMPTY);
    }

    /** @param attributeName a name @return the attribute with that name, if present */
    public Optional<OnnxAttribute> attribute(String attributeName) {
        for (OnnxAttribute a : attributes) {
            if (a.name().equals(attributeName)) {
                return Optional.of(a);
            }
        }
        return Optional.empty();
    }

    /** @param newInputs input names @return a copy with those inputs */
    public OnnxNode withInputs(List<String> newInputs) {
        return new OnnxNode(opType, newInputs, outputs, name, domain, attributes, docString, unknownFields);
    }

    /** @param newOutputs output names @return a copy with those outputs */
    public OnnxNode withOutputs(List<String> newOutputs) {
        return new OnnxNode(opType, inputs, newOutputs, name, domain, attributes, docString, unknownFields);
    }

    /** @param newAttributes attributes @return a copy with those attributes */
    public OnnxNode withAttributes(List<OnnxAttribute> newAttributes) {
        return new OnnxNode(opType, inputs, outputs, name, domain, newAttributes, docString, unknownFields);
    }

    @Override
    public String toString() {
        return (name.isEmpty() ? "" : name + ": ") + (domain.isEmpty() ? "" : domain + ".") + opType + inputs + " -> "
                + outputs + (attributes.isEmpty() ? "" : " " + attributes);
    }
}
