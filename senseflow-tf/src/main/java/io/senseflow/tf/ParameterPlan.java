package io.senseflow.tf;

import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.tf.importer.ImportOptions;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The trainable parameters an import of a graph creates, worked out from the ONNX graph alone (no shapes needed), so a
 * module whose input shapes are only known at its first call can own its variables from the start: every float
 * initializer the requested outputs depend on that the options' selector accepts, plus each {@code Identity} of a
 * float initializer (PyTorch's dedup of equal parameters) as a parameter of its own when untying is on — the same
 * rules, in the same first-use order, as the importer's.
 */
final class ParameterPlan {
    private ParameterPlan() {
    }

    /**
     * @param model the graph
     * @param options import options (outputs, trainable selector, untying)
     * @return the trainable parameters by original name, each with its initial value under that name
     */
    static Map<String, TensorValue> of(OnnxModel model, ImportOptions options) {
        OnnxGraph g = model.graph();
        Map<String, TensorValue> inits = new HashMap<>();
        for (TensorValue t : g.initializers()) {
            inits.put(t.name(), t);
        }
        Set<String> inputs = new HashSet<>();
        for (ValueInfo v : g.inputs()) {
            inputs.add(v.name());
        }
        Map<String, String> untied = new HashMap<>();
        if (options.untieSharedParameters()) {
            for (OnnxNode n : g.nodes()) {
                if (n.opType().equals("Identity") && n.domain().isEmpty() && n.inputs().size() == 1
                        && n.outputs().size() == 1) {
                    TensorValue src = inits.get(n.inputs().get(0));
                    if (src != null && src.dataType().isFloatingPoint() && !inits.containsKey(n.outputs().get(0))) {
                        untied.put(n.outputs().get(0), src.name());
                    }
                }
            }
        }
        Map<String, OnnxNode> producer = new HashMap<>();
        for (OnnxNode n : g.nodes()) {
            for (String o : n.outputs()) {
                if (!o.isEmpty()) {
                    producer.put(o, n);
                }
            }
        }
        List<String> wanted = options.outputs().isEmpty() ? g.outputs().stream().map(ValueInfo::name).toList()
                : options.outputs();
        Set<OnnxNode> needed = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>(wanted);
        Set<String> seen = new HashSet<>();
        while (!todo.isEmpty()) {
            String v = todo.pop();
            if (v.isEmpty() || !seen.add(v) || inits.containsKey(v) || untied.containsKey(v)
                    || (inputs.contains(v) && !inits.containsKey(v))) {
                continue;
            }
            OnnxNode n = producer.get(v);
            if (n != null && needed.add(n)) {
                todo.addAll(n.inputs());
            }
        }
        Map<String, TensorValue> out = new LinkedHashMap<>();
        for (OnnxNode n : g.nodes()) {
            if (!needed.contains(n)) {
                continue;
            }
            for (String i : n.inputs()) {
                addValue(out, i, inits, untied, options);
            }
        }
        for (String w : wanted) { // graph outputs that are initializers (or untied copies) themselves
            addValue(out, w, inits, untied, options);
        }
        return out;
    }

    private static void addValue(Map<String, TensorValue> out, String name, Map<String, TensorValue> inits,
                                 Map<String, String> untied, ImportOptions options) {
        if (untied.containsKey(name)) {
            add(out, inits.get(untied.get(name)).withName(name), options);
        } else if (inits.containsKey(name)) {
            add(out, inits.get(name), options);
        }
    }

    private static void add(Map<String, TensorValue> out, TensorValue t, ImportOptions options) {
        if (t.dataType().isFloatingPoint() && options.isTrainable(t.name()) && !out.containsKey(t.name())) {
            out.put(t.name(), t);
        }
    }
}
