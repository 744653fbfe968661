package io.senseflow.tf.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxAttribute;
import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Edits of a teacher's ONNX graph for deriving the generator and the fake score from it (docs/algorithm.md §4: an input
 * of T that G and F should not take, such as FLUX's {@code guidance}, is fixed to a constant or removed in G and F).
 * The results are ordinary ONNX models: ONNX Runtime runs them and the TensorFlow importer trains them, and the exported
 * student is the edited graph.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class TeacherGraphs {
    private TeacherGraphs() {
    }

    /**
     * Replaces a graph input by a constant: the input disappears from the graph's inputs and a node produces a value of
     * the same name, so its consumers are unchanged. A rank-0 input becomes a scalar; an input whose leading dimension
     * is symbolic (the batch) is expanded at run time to the leading dimension of another input with the same symbol
     * ({@code Shape} + {@code Expand}, which fold away when the batch is specialised at import); other dimensions must
     * be fixed. The value is cast to the input's declared type.
     *
     * @param model the teacher
     * @param input the input to bind, e.g. {@code "guidance"}
     * @param value its value for every sample
     * @return the edited model
     * @throws InvalidRequestException naming the input if it does not exist, has a non-numeric type, a symbolic
     *     dimension other than the leading one, or a symbolic batch no other input shares
     */
    public static OnnxModel bindConstant(OnnxModel model, String input, float value) {
        OnnxGraph g = model.graph();
        ValueInfo info = requireInput(g, input);
        DataType type = info.elementType();
        if (!(type.isFloatingPoint() || type == DataType.INT64 || type == DataType.INT32)) {
            throw InvalidRequestException.of("input '" + input + "' type", "a float or int32/int64 input to bind to a"
                    + " constant", type);
        }
        List<Dim> shape = info.shape();
        if (shape == null) {
            throw InvalidRequestException.of("input '" + input + "' shape", "a declared shape (rank and sizes)", "unknown");
        }
        Set<String> used = usedNames(g);
        String prefix = unique(used, "senseflow_bound_" + input.replaceAll("[^A-Za-z0-9_]", "_"));
        List<OnnxNode> added = new ArrayList<>();
        String fp = prefix + "/value";
        boolean needsCast = type != DataType.FLOAT;
        String valueOut = shape.isEmpty() && !needsCast ? input : fp;
        long[] fixedTail = new long[Math.max(0, shape.size() - 1)];
        for (int i = 1; i < shape.size(); i++) {
            if (!(shape.get(i) instanceof Dim.Fixed f)) {
                throw InvalidRequestException.of("input '" + input + "' dimension " + i, "a fixed size (only the leading,"
                        + " batch dimension may be symbolic)", shape.get(i));
            }
            fixedTail[i - 1] = f.value();
        }
        if (shape.isEmpty()) {
            added.add(constant(valueOut, TensorValue.ofFloats("", new float[] {value}), prefix + "/Constant"));
        } else if (shape.get(0) instanceof Dim.Fixed lead) {
            long[] dims = new long[shape.size()];
            dims[0] = lead.value();
            System.arraycopy(fixedTail, 0, dims, 1, fixedTail.length);
            long n = 1;
            for (long d : dims) {
                n = Math.multiplyExact(n, d);
            }
            float[] v = new float[Math.toIntExact(n)];
            java.util.Arrays.fill(v, value);
            added.add(constant(needsCast ? fp : input, TensorValue.ofFloats("", v, dims), prefix + "/Constant"));
        } else {
            String source = batchSource(g, input, shape.get(0));
            long[] one = new long[shape.size()];
            java.util.Arrays.fill(one, 1);
            String c = prefix + "/one";
            String batch = prefix + "/batch";
            String tail = prefix + "/tail";
            String target = prefix + "/shape";
            added.add(constant(c, TensorValue.ofFloats("", new float[] {value}, one), prefix + "/Constant"));
            added.add(new OnnxNode("Shape", List.of(source), List.of(batch), prefix + "/Shape", "",
                    List.of(OnnxAttribute.ofInt("start", 0), OnnxAttribute.ofInt("end", 1))));
            added.add(constant(tail, TensorValue.ofLongs("", fixedTail, fixedTail.length), prefix + "/Tail"));
            added.add(new OnnxNode("Concat", List.of(batch, tail), List.of(target), prefix + "/Concat", "",
                    List.of(OnnxAttribute.ofInt("axis", 0))));
            added.add(new OnnxNode("Expand", List.of(c, target), List.of(needsCast ? fp : input), prefix + "/Expand", "",
                    List.of()));
        }
        if (needsCast) {
            added.add(new OnnxNode("Cast", List.of(fp), List.of(input), prefix + "/Cast", "",
                    List.of(OnnxAttribute.ofInt("to", type.code()))));
        }
        List<OnnxNode> nodes = new ArrayList<>(added);
        nodes.addAll(g.nodes());
        List<ValueInfo> inputs = new ArrayList<>(g.inputs());
        inputs.removeIf(v -> v.name().equals(input));
        return model.withGraph(g.withNodes(nodes).withInputs(inputs))
                .withMetadata("senseflow.bound_input." + input, Float.toString(value));
    }

    /**
     * Removes a graph input that no node and no output reads (a teacher-only input that the exported graph merely
     * declares).
     *
     * @param model the teacher
     * @param input the input
     * @return the edited model
     * @throws InvalidRequestException if the input does not exist or is read (then bind it with {@link #bindConstant})
     */
    public static OnnxModel removeInput(OnnxModel model, String input) {
        OnnxGraph g = model.graph();
        requireInput(g, input);
        List<String> readers = new ArrayList<>();
        for (OnnxNode n : g.nodes()) {
            if (n.inputs().contains(input) || subgraphsRead(n, input)) {
                readers.add(n.name().isEmpty() ? n.opType() : n.name());
            }
        }
        if (g.outputs().stream().anyMatch(o -> o.name().equals(input))) {
            readers.add("(graph output)");
        }
        if (!readers.isEmpty()) {
            throw new InvalidRequestException("input '" + input + "' cannot be removed: it is read by " + readers.size()
                    + " node(s) " + (readers.size() <= 5 ? readers : readers.subList(0, 5) + " ...")
                    + "; bind it to a constant instead (TeacherGraphs.bindConstant)");
        }
        List<ValueInfo> inputs = new ArrayList<>(g.inputs());
        inputs.removeIf(v -> v.name().equals(input));
        return model.withGraph(g.withInputs(inputs));
    }

    private static boolean subgraphsRead(OnnxNode n, String value) {
        for (OnnxAttribute a : n.attributes()) {
            List<OnnxGraph> subs = a.type() == io.senseflow.onnx.ir.AttributeType.GRAPH ? List.of(a.graphValue())
                    : a.type() == io.senseflow.onnx.ir.AttributeType.GRAPHS ? a.graphs() : List.of();
            for (OnnxGraph sub : subs) {
                for (OnnxNode m : sub.nodes()) {
                    if (m.inputs().contains(value) || subgraphsRead(m, value)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    private static ValueInfo requireInput(OnnxGraph g, String input) {
        for (ValueInfo v : g.inputs()) {
            if (v.name().equals(input)) {
                return v;
            }
        }
        List<String> names = g.inputs().stream().map(ValueInfo::name).toList();
        throw InvalidRequestException.of("teacher input", "one of " + names, "'" + input + "'");
    }

    private static String batchSource(OnnxGraph g, String input, Dim lead) {
        for (ValueInfo v : g.inputs()) {
            if (!v.name().equals(input) && v.shape() != null && !v.shape().isEmpty() && v.shape().get(0).equals(lead)) {
                return v.name();
            }
        }
        throw InvalidRequestException.of("input '" + input + "' leading dimension '" + lead + "'",
                "a symbol another graph input shares (to take the batch size from)", "no other input with it");
    }

    private static OnnxNode constant(String out, TensorValue value, String name) {
        return new OnnxNode("Constant", List.of(), List.of(out), name, "", List.of(OnnxAttribute.ofTensor("value", value)));
    }

    private static Set<String> usedNames(OnnxGraph g) {
        Set<String> s = new HashSet<>();
        g.inputs().forEach(v -> s.add(v.name()));
        g.initializers().forEach(t -> s.add(t.name()));
        for (OnnxNode n : g.nodes()) {
            s.addAll(n.outputs());
            s.add(n.name());
        }
        return s;
    }

    private static String unique(Set<String> used, String base) {
        String s = base;
        for (int k = 1; taken(used, s); k++) {
            s = base + "_" + k;
        }
        return s;
    }

    private static boolean taken(Set<String> used, String prefix) {
        for (String u : used) {
            if (u.equals(prefix) || u.startsWith(prefix + "/")) {
                return true;
            }
        }
        return false;
    }
}
