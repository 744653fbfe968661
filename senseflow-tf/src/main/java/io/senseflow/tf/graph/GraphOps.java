package io.senseflow.tf.graph;

import io.senseflow.onnx.ir.TensorValue;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * Builds operations in one TensorFlow {@link Graph} under a name scope. Names are sanitised and made unique (a
 * suffix {@code _1}, {@code _2}, ... is added when the graph already has the name), so any number of builders may
 * share a graph. Constants are built from values held in Java; the caller keeps large values out of the graph
 * (GraphDef is limited to 2 GB) by using variables instead.
 *
 * <p>Not thread-safe: build a graph from one thread.
 */
public final class GraphOps {
    private final Graph graph;
    private final String scope;
    private final Map<String, Integer> counters;

    private GraphOps(Graph graph, String scope, Map<String, Integer> counters) {
        this.graph = graph;
        this.scope = scope;
        this.counters = counters;
    }

    /**
     * @param graph the graph
     * @param scope a name scope ("" for none); sanitised
     * @return a builder
     */
    public static GraphOps of(Graph graph, String scope) {
        return new GraphOps(graph, scope.isEmpty() ? "" : TfNames.sanitize(scope), new HashMap<>());
    }

    /** @param sub a scope segment or path (sanitised) @return a builder for the nested scope */
    public GraphOps scoped(String sub) {
        String s = TfNames.sanitize(sub);
        return new GraphOps(graph, scope.isEmpty() ? s : scope + "/" + s, counters);
    }

    /** @return the graph */
    public Graph graph() {
        return graph;
    }

    /** @return the current scope ("" for none) */
    public String scope() {
        return scope;
    }

    /**
     * @param local a name inside the scope (sanitised)
     * @return a full op name unused in the graph
     */
    public String uniqueName(String local) {
        String base = scope.isEmpty() ? TfNames.sanitize(local) : scope + "/" + TfNames.sanitize(local);
        if (graph.operation(base) == null && !counters.containsKey(base)) {
            counters.put(base, 0);
            return base;
        }
        int k = counters.getOrDefault(base, 0);
        String name;
        do {
            k++;
            name = base + "_" + k;
        } while (graph.operation(name) != null);
        counters.put(base, k);
        return name;
    }

    /** @param type the TensorFlow op type @return a builder for a uniquely named op of that type */
    public Op op(String type) {
        return op(type, type);
    }

    /**
     * @param type the TensorFlow op type
     * @param local the local name (made unique)
     * @return a builder
     */
    public Op op(String type, String local) {
        String name = uniqueName(local);
        return new Op(graph.opBuilder(type, name, graph.baseScope()), type, name);
    }

    // ------------------------------------------------------------------ constants and placeholders

    /** @param value a TensorFlow tensor (copied into the graph) @return a constant */
    public Output<?> constant(org.tensorflow.Tensor value) {
        return op("Const").attr("dtype", value.dataType()).attr("value", value).out();
    }

    /** @param value an ONNX tensor (copied into the graph) @return a constant */
    public Output<?> constant(TensorValue value) {
        try (org.tensorflow.Tensor t = TfTensors.of(value)) {
            return constant(t);
        }
    }

    /** @param v value @return a float32 scalar constant */
    public Output<?> scalar(float v) {
        try (TFloat32 t = TFloat32.scalarOf(v)) {
            return constant(t);
        }
    }

    /** @param v value @return a float64 scalar constant */
    public Output<?> scalar(double v) {
        try (TFloat64 t = TFloat64.scalarOf(v)) {
            return constant(t);
        }
    }

    /** @param v value @return an int64 scalar constant */
    public Output<?> scalarLong(long v) {
        try (TInt64 t = TInt64.scalarOf(v)) {
            return constant(t);
        }
    }

    /** @param v value @return an int32 scalar constant */
    public Output<?> scalarInt(int v) {
        try (TInt32 t = TInt32.scalarOf(v)) {
            return constant(t);
        }
    }

    /** @param v values @return an int64 vector constant */
    public Output<?> longs(long... v) {
        try (TInt64 t = TInt64.vectorOf(v)) {
            return constant(t);
        }
    }

    /** @param v values @return an int32 vector constant */
    public Output<?> ints(int... v) {
        try (TInt32 t = TInt32.vectorOf(v)) {
            return constant(t);
        }
    }

    /**
     * Index and shape vectors for ops whose C++ gradients build int32 shape arithmetic (StridedSlice, Slice,
     * BroadcastTo, Tile, Pad): mixing int64 there makes {@code addGradients} fail with "Inconsistent values for attr
     * 'Index'".
     *
     * @param v values, clamped to the int32 range (slice bounds like {@code Long.MAX_VALUE} keep their meaning)
     * @return an int32 vector constant
     */
    public Output<?> indices(long... v) {
        int[] i = new int[v.length];
        for (int k = 0; k < v.length; k++) {
            i[k] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v[k]));
        }
        return ints(i);
    }

    /**
     * @param v a value
     * @param type a numeric type
     * @return a scalar constant of that type holding {@code v} (rounded or truncated as a cast would)
     */
    public Output<?> scalarOf(double v, DataType type) {
        return switch (type) {
            case DT_FLOAT -> scalar((float) v);
            case DT_DOUBLE -> scalar(v);
            case DT_INT64 -> scalarLong((long) v);
            case DT_INT32 -> scalarInt((int) v);
            default -> cast(scalar(v), type);
        };
    }

    /**
     * @param type element type
     * @param shape static shape (unknown dimensions -1)
     * @param local name
     * @return a placeholder
     */
    public Output<?> placeholder(DataType type, Shape shape, String local) {
        return op("Placeholder", local).attr("dtype", type).attr("shape", shape).out();
    }

    // ------------------------------------------------------------------ common ops

    /** @param type op type @param x input @return the op's output */
    public Output<?> unary(String type, Output<?> x) {
        return op(type).in(x).out();
    }

    /** @param type op type @param a first input @param b second input @return the op's output */
    public Output<?> binary(String type, Output<?> a, Output<?> b) {
        return op(type).in(a).in(b).out();
    }

    /** @param x input @param to target type @return x cast (x itself when already of that type) */
    public Output<?> cast(Output<?> x, DataType to) {
        if (x.dataType() == to) {
            return x;
        }
        return op("Cast").in(x).attr("DstT", to).out();
    }

    /** @param x input @param shape target shape (one -1 allowed) @return the reshaped value */
    public Output<?> reshape(Output<?> x, long... shape) {
        return op("Reshape").in(x).in(longs(shape)).out();
    }

    /** @param x input @param perm permutation @return the transposed value */
    public Output<?> transpose(Output<?> x, int... perm) {
        return op("Transpose").in(x).in(ints(perm)).out();
    }

    /** @param x input @return an identity */
    public Output<?> identity(Output<?> x) {
        return op("Identity").in(x).out();
    }

    /**
     * @param type Sum, Mean, Max, Min or Prod
     * @param x input
     * @param keepDims keep reduced dimensions
     * @param axes axes (non-negative)
     * @return the reduction
     */
    public Output<?> reduce(String type, Output<?> x, boolean keepDims, int... axes) {
        return op(type).in(x).in(ints(axes)).attr("keep_dims", keepDims).out();
    }

    /** @param xs inputs @param axis axis (non-negative) @return the concatenation */
    public Output<?> concat(List<Output<?>> xs, int axis) {
        return op("ConcatV2").inList(xs.toArray(new Output<?>[0])).in(scalarInt(axis)).out();
    }

    /** @param c condition @param a when true @param b when false @return the broadcasting selection */
    public Output<?> select(Output<?> c, Output<?> a, Output<?> b) {
        return op("SelectV2").in(c).in(a).in(b).out();
    }

    /** @param x input @return its dynamic shape as int64 */
    public Output<?> shapeOf(Output<?> x) {
        return op("Shape").in(x).attr("out_type", DataType.DT_INT64).out();
    }

    /**
     * @param local name
     * @param deps operations to run
     * @return a no-op that runs after all of them (a target for {@code Session.Runner.addTarget})
     */
    public GraphOperation group(String local, List<? extends Operation> deps) {
        Op op = op("NoOp", local);
        for (Operation d : deps) {
            op.control(d);
        }
        return op.build();
    }
}
