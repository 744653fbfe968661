package io.senseflow.onnx.ir;

import io.senseflow.InvalidRequestException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * An immutable computation graph ({@code GraphProto}): nodes in topological order, initializers (the weights),
 * declared inputs and outputs, and optional type annotations of intermediate values.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class OnnxGraph {
    private final String name;
    private final List<OnnxNode> nodes;
    private final List<TensorValue> initializers;
    private final List<ValueInfo> inputs;
    private final List<ValueInfo> outputs;
    private final List<ValueInfo> valueInfo;
    private final String docString;
    private final UnknownFields unknownFields;
    private final Map<String, TensorValue> initializerIndex;

    /**
     * @param name the graph name
     * @param nodes the nodes, in topological order
     * @param initializers the initializers
     * @param inputs the declared inputs
     * @param outputs the declared outputs
     * @param valueInfo type annotations of other values
     * @param docString documentation, empty when absent
     * @param unknownFields fields this SDK does not model (sparse initializers, quantization annotations, ...)
     */
    public OnnxGraph(String name, List<OnnxNode> nodes, List<TensorValue> initializers, List<ValueInfo> inputs,
                     List<ValueInfo> outputs, List<ValueInfo> valueInfo, String docString, UnknownFields unknownFields) {
        this.name = Objects.requireNonNull(name, "name");
        this.nodes = List.copyOf(nodes);
        this.initializers = List.copyOf(initializers);
        this.inputs = List.copyOf(inputs);
        this.outputs = List.copyOf(outputs);
        this.valueInfo = List.copyOf(valueInfo);
        this.docString = Objects.requireNonNull(docString, "docString");
        this.unknownFields = Objects.requireNonNull(unknownFields, "unknownFields");
        Map<String, TensorValue> index = new HashMap<>();
        for (TensorValue t : this.initializers) {
            index.putIfAbsent(t.name(), t);
        }
        this.initializerIndex = index;
    }

    /**
     * @param name the graph name
     * @param nodes the nodes, in topological order
     * @param initializers the initializers
     * @param inputs the declared inputs
     * @param outputs the declared outputs
     * @return a graph without value annotations or documentation
     */
    public static OnnxGraph of(String name, List<OnnxNode> nodes, List<TensorValue> initializers, List<ValueInfo> inputs,
                               List<ValueInfo> outputs) {
        return new OnnxGraph(name, nodes, initializers, inputs, outputs, List.of(), "", UnknownFields.EMPTY);
    }

    /** @return the graph name */
    public String name() {
        return name;
    }

    /** @return the nodes in topological order */
    public List<OnnxNode> nodes() {
        return nodes;
    }

    /** @return the initializers */
    public List<TensorValue> initializers() {
        return initializers;
    }

    /** @return the declared inputs (they may include initializers in models of IR version 3 and older) */
    public List<ValueInfo> inputs() {
        return inputs;
    }

    /** @return the declared outputs */
    public List<ValueInfo> outputs() {
        return outputs;
    }

    /** @return type annotations of intermediate values */
    public List<ValueInfo> valueInfo() {
        return valueInfo;
    }

    /** @return documentation, empty when absent */
    public String docString() {
        return docString;
    }

    /** @return fields this SDK does not model */
    public UnknownFields unknownFields() {
        return unknownFields;
    }

    /** @param initializerName a name @return the initializer with that name, if any */
    public Optional<TensorValue> initializer(String initializerName) {
        return Optional.ofNullable(initializerIndex.get(initializerName));
    }

    /** @param opType an operator name @return the nodes of that operator, in graph order */
    public List<OnnxNode> nodes(String opType) {
        List<OnnxNode> out = new ArrayList<>();
        for (OnnxNode n : nodes) {
            if (n.opType().equals(opType)) {
                out.add(n);
            }
        }
        return out;
    }

    /** @return how many nodes each operator has, in order of first appearance */
    public Map<String, Integer> opTypeCounts() {
        Map<String, Integer> counts = new LinkedHashMap<>();
        for (OnnxNode n : nodes) {
            counts.merge(n.opType(), 1, Integer::sum);
        }
        return Collections.unmodifiableMap(counts);
    }

    /** @param newName a name @return a copy with that name */
    public OnnxGraph withName(String newName) {
        return new OnnxGraph(newName, nodes, initializers, inputs, outputs, valueInfo, docString, unknownFields);
    }

    /** @param newNodes the nodes @return a copy with those nodes */
    public OnnxGraph withNodes(List<OnnxNode> newNodes) {
        return new OnnxGraph(name, newNodes, initializers, inputs, outputs, valueInfo, docString, unknownFields);
    }

    /** @param newInitializers the initializers @return a copy with those initializers */
    public OnnxGraph withInitializers(List<TensorValue> newInitializers) {
        return new OnnxGraph(name, nodes, newInitializers, inputs, outputs, valueInfo, docString, unknownFields);
    }

    /** @param newInputs the inputs @return a copy with those inputs */
    public OnnxGraph withInputs(List<ValueInfo> newInputs) {
        return new OnnxGraph(name, nodes, initializers, newInputs, outputs, valueInfo, docString, unknownFields);
    }

    /** @param newOutputs the outputs @return a copy with those outputs */
    public OnnxGraph withOutputs(List<ValueInfo> newOutputs) {
        return new OnnxGraph(name, nodes, initializers, inputs, newOutputs, valueInfo, docString, unknownFields);
    }

    /** @param newValueInfo the annotations @return a copy with those annotations */
    public OnnxGraph withValueInfo(List<ValueInfo> newValueInfo) {
        return new OnnxGraph(name, nodes, initializers, inputs, outputs, newValueInfo, docString, unknownFields);
    }

    /**
     * Replaces the initializer of the same name (for swapping weights).
     *
     * @param replacement the new tensor; its name selects the initializer
     * @return a copy with the initializer replaced
     * @throws InvalidRequestException if no initializer has that name
     */
    public OnnxGraph withInitializer(TensorValue replacement) {
        List<TensorValue> list = new ArrayList<>(initializers);
        for (int i = 0; i < list.size(); i++) {
            if (list.get(i).name().equals(replacement.name())) {
                list.set(i, replacement);
                return withInitializers(list);
            }
        }
        throw new InvalidRequestException("graph " + name + " has no initializer named " + replacement.name());
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof OnnxGraph g)) {
            return false;
        }
        return name.equals(g.name) && nodes.equals(g.nodes) && initializers.equals(g.initializers)
                && inputs.equals(g.inputs) && outputs.equals(g.outputs) && valueInfo.equals(g.valueInfo)
                && docString.equals(g.docString) && unknownFields.equals(g.unknownFields);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, nodes, inputs, outputs);
    }

    @Override
    public String toString() {
        return "OnnxGraph[" + name + ": " + nodes.size() + " nodes, " + initializers.size() + " initializers, inputs "
                + inputs + ", outputs " + outputs + "]";
    }
}
