package io.senseflow.tf.importer;

import io.senseflow.InvalidRequestException;
import io.senseflow.tf.graph.TfVariable;
import io.senseflow.tf.graph.VariableInitializer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Session;

/**
 * The result of importing an ONNX graph into a TensorFlow {@link Graph}: its inputs and outputs by original name,
 * the variables it created or reused (trainable ones and large frozen constants), the read of each variable this
 * graph uses (gradients are taken with respect to these), and the map from TensorFlow names back to the original
 * names. It does not own the graph.
 *
 * <p>Not thread-safe: belongs to the workspace it was imported into; use it from that workspace's thread.
 */
public final class ImportedGraph {
    private final Graph graph;
    private final String scope;
    private final Map<String, Output<?>> inputs;
    private final Map<String, Output<?>> outputs;
    private final List<TfVariable> variables;
    private final Map<String, Output<?>> reads;
    private final Map<String, String> originalNames;
    private final int importedNodes;
    private final int foldedNodes;
    private final long opset;
    private final int bfloat16Products;
    private final int float32Fallbacks;

    ImportedGraph(Graph graph, String scope, Map<String, Output<?>> inputs, Map<String, Output<?>> outputs,
                  List<TfVariable> variables, Map<String, Output<?>> reads, Map<String, String> originalNames,
                  int importedNodes, int foldedNodes, long opset, int bfloat16Products, int float32Fallbacks) {
        this.graph = graph;
        this.scope = scope;
        this.inputs = Collections.unmodifiableMap(new LinkedHashMap<>(inputs));
        this.outputs = Collections.unmodifiableMap(new LinkedHashMap<>(outputs));
        this.variables = List.copyOf(variables);
        this.reads = Collections.unmodifiableMap(new LinkedHashMap<>(reads));
        this.originalNames = Collections.unmodifiableMap(new LinkedHashMap<>(originalNames));
        this.importedNodes = importedNodes;
        this.foldedNodes = foldedNodes;
        this.opset = opset;
        this.bfloat16Products = bfloat16Products;
        this.float32Fallbacks = float32Fallbacks;
    }

    /** @return the graph the ops were added to */
    public Graph graph() {
        return graph;
    }

    /** @return the name scope of the imported ops */
    public String scope() {
        return scope;
    }

    /** @return graph inputs by original name: placeholders, or the outputs the caller provided */
    public Map<String, Output<?>> inputs() {
        return inputs;
    }

    /** @param name an original input name @return its TensorFlow output */
    public Output<?> input(String name) {
        Output<?> o = inputs.get(name);
        if (o == null) {
            throw InvalidRequestException.of("graph input", "one of " + inputs.keySet(), name);
        }
        return o;
    }

    /** @return the imported outputs by original name */
    public Map<String, Output<?>> outputs() {
        return outputs;
    }

    /** @param name an original output (or tapped value) name @return its TensorFlow output */
    public Output<?> output(String name) {
        Output<?> o = outputs.get(name);
        if (o == null) {
            throw InvalidRequestException.of("graph output", "one of " + outputs.keySet(), name);
        }
        return o;
    }

    /** @return every variable this import uses, trainable and frozen, in creation order */
    public List<TfVariable> variables() {
        return variables;
    }

    /** @return the trainable variables */
    public List<TfVariable> trainableVariables() {
        List<TfVariable> out = new ArrayList<>();
        for (TfVariable v : variables) {
            if (v.trainable()) {
                out.add(v);
            }
        }
        return out;
    }

    /** @return the value read from each variable by this graph, by original name */
    public Map<String, Output<?>> variableReads() {
        return reads;
    }

    /** @return TensorFlow op name to original ONNX name, for variables, inputs and outputs */
    public Map<String, String> originalNames() {
        return originalNames;
    }

    /** @return ONNX nodes imported as TensorFlow ops */
    public int importedNodes() {
        return importedNodes;
    }

    /** @return ONNX nodes evaluated at import (folded to constants) */
    public int foldedNodes() {
        return foldedNodes;
    }

    /** @return the default-domain opset of the model */
    public long opset() {
        return opset;
    }

    /**
     * @return matrix products run in bfloat16 against frozen bfloat16 weights ({@link ImportOptions#computeBfloat16()};
     *     0 otherwise)
     */
    public int bfloat16Products() {
        return bfloat16Products;
    }

    /**
     * @return products against a frozen bfloat16 weight that stayed float32 because the op has no bfloat16 path
     *     (grouped or depthwise convolution, Einsum); 0 unless {@link ImportOptions#computeBfloat16()}
     */
    public int float32Fallbacks() {
        return float32Fallbacks;
    }

    /** @param session a session of {@link #graph()} in which to set every variable to its initial value */
    public void initializeVariables(Session session) {
        VariableInitializer.run(session, variables);
    }

    @Override
    public String toString() {
        return "ImportedGraph[" + scope + ": " + importedNodes + " nodes imported, " + foldedNodes + " folded, "
                + variables.size() + " variables, " + (bfloat16Products + float32Fallbacks > 0 ? bfloat16Products
                + " bfloat16 products, " + float32Fallbacks + " float32 fallbacks, " : "") + "inputs " + inputs.keySet() + ", outputs " + outputs.keySet() + "]";
    }
}
