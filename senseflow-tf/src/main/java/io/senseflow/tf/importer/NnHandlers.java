package io.senseflow.tf.importer;

import io.senseflow.tf.graph.GraphOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.tensorflow.Output;
import org.tensorflow.proto.DataType;

/** Matrix products, normalisations, softmax, reductions and convolution. */
final class NnHandlers {
    private NnHandlers() {
    }

    static void register(Map<String, OpHandler> t) {
        t.put("MatMul", NnHandlers::matMul);
        t.put("Gemm", NnHandlers::gemm);
        t.put("Softmax", c -> softmax(c, "Softmax"));
        t.put("LogSoftmax", c -> softmax(c, "LogSoftmax"));
        t.put("LayerNormalization", NnHandlers::layerNorm);
        t.put("InstanceNormalization", NnHandlers::instanceNorm);
        t.put("BatchNormalization", NnHandlers::batchNorm);
        t.put("ReduceMean", c -> reduce(c, "Mean", null));
        t.put("ReduceSum", c -> reduce(c, "Sum", null));
        t.put("ReduceMax", c -> reduce(c, "Max", null));
        t.put("ReduceMin", c -> reduce(c, "Min", null));
        t.put("ReduceProd", c -> reduce(c, "Prod", null));
        t.put("ReduceSumSquare", c -> reduce(c, "Sum", "Square"));
        t.put("ReduceL1", c -> reduce(c, "Sum", "Abs"));
        t.put("ReduceL2", c -> {
            Value[] s = reduce(c, "Sum", "Square");
            return NodeContext.one(c.ops().unary("Sqrt", s[0].output()));
        });
        t.put("ReduceLogSumExp", c -> {
            // log(sum(exp(x - m))) + m with m the (stopped) max, for stability
            GraphOps o = c.ops();
            int r = c.rank(0);
            int[] axes = reduceAxes(c, r);
            boolean keep = c.attrInt("keepdims", 1) == 1;
            if (axes == null) {
                return NodeContext.one(o.identity(c.in(0)));
            }
            Output<?> x = c.in(0);
            Output<?> m = o.unary("StopGradient", o.reduce("Max", x, true, axes));
            Output<?> s = o.reduce("Sum", o.unary("Exp", o.binary("Sub", x, m)), true, axes);
            Output<?> y = o.binary("AddV2", o.unary("Log", s), m);
            if (!keep) {
                y = o.op("Squeeze").in(y).attr("squeeze_dims", Arrays.stream(axes).asLongStream().toArray()).out();
            }
            return NodeContext.one(y);
        });
        t.put("GlobalAveragePool", c -> global(c, "Mean"));
        t.put("GlobalMaxPool", c -> global(c, "Max"));
        t.put("Conv", ConvHandler::conv);
        t.put("Resize", ResizeHandler::resize);
        t.put("Einsum", EinsumHandler::einsum);
    }

    private static Value[] matMul(NodeContext c) {
        GraphOps o = c.ops();
        int ra = c.rank(0);
        int rb = c.rank(1);
        Output<?>[] bf = c.bfloat16Operands(0, 1);
        Output<?> a = bf != null ? bf[0] : c.in(0);
        Output<?> b = bf != null ? bf[1] : c.in(1);
        if (ra == 2 && rb == 2) {
            return NodeContext.one(toFloat(o, o.binary("MatMul", a, b), bf));
        }
        long[] sa = c.shape(0);
        long[] sb = c.shape(1);
        if (rb == 2 && ra > 2 && Arrays.stream(sa).allMatch(d -> d >= 0) && sb[1] >= 0) {
            // [..., K] x [K, N]: one GEMM over the flattened leading dimensions
            long rows = ShapeHandlers.product(Arrays.copyOf(sa, ra - 1));
            Output<?> y = o.binary("MatMul", o.reshape(a, rows, sa[ra - 1]), b);
            long[] out = Arrays.copyOf(sa, ra);
            out[ra - 1] = sb[1];
            return NodeContext.one(toFloat(o, o.reshape(y, out), bf));
        }
        boolean squeezeA = false;
        boolean squeezeB = false;
        if (ra == 1) {
            a = o.binary("ExpandDims", a, o.scalarInt(0));
            squeezeA = true;
        }
        if (rb == 1) {
            b = o.binary("ExpandDims", b, o.scalarInt(-1));
            squeezeB = true;
        }
        Output<?> y = o.binary("BatchMatMulV2", a, b);
        if (squeezeA || squeezeB) {
            List<Long> dims = new ArrayList<>();
            if (squeezeA) {
                dims.add(-2L);
            }
            if (squeezeB) {
                dims.add(-1L);
            }
            y = o.op("Squeeze").in(y).attr("squeeze_dims", dims.stream().mapToLong(Long::longValue).toArray()).out();
        }
        return NodeContext.one(toFloat(o, y, bf));
    }

    /** A bfloat16 product ({@code bf} non-null) back to float32; a float32 one as it is. */
    static Output<?> toFloat(GraphOps o, Output<?> y, Output<?>[] bf) {
        return bf == null ? y : o.cast(y, DataType.DT_FLOAT);
    }

    private static Value[] gemm(NodeContext c) {
        GraphOps o = c.ops();
        float alpha = c.attrFloat("alpha", 1f);
        float beta = c.attrFloat("beta", 1f);
        Output<?>[] bf = c.bfloat16Operands(0, 1);
        Output<?> y = o.op("MatMul").in(bf != null ? bf[0] : c.in(0)).in(bf != null ? bf[1] : c.in(1))
                .attr("transpose_a", c.attrInt("transA", 0) == 1).attr("transpose_b", c.attrInt("transB", 0) == 1).out();
        y = toFloat(o, y, bf);
        DataType dt = y.dataType();
        if (alpha != 1f) {
            y = o.binary("Mul", y, o.scalarOf(alpha, dt));
        }
        if (c.has(2) && beta != 0f) {
            Output<?> bias = c.in(2);
            if (beta != 1f) {
                bias = o.binary("Mul", bias, o.scalarOf(beta, dt));
            }
            y = o.binary("AddV2", y, bias);
        }
        return NodeContext.one(y);
    }

    private static Value[] softmax(NodeContext c, String tf) {
        GraphOps o = c.ops();
        int r = c.rank(0);
        Output<?> x = c.in(0);
        if (c.opset() < 13) {
            // coerce to 2-D at `axis` (default 1), normalise the trailing block
            long ax = c.attrInt("axis", 1);
            int a = ax < 0 ? (int) ax + r : (int) ax;
            long[] s = c.staticShape(0, tf + " before opset 13");
            long rows = ShapeHandlers.product(Arrays.copyOf(s, a));
            long cols = ShapeHandlers.product(Arrays.copyOfRange(s, a, r));
            Output<?> y = o.unary(tf, o.reshape(x, rows, cols));
            return NodeContext.one(o.reshape(y, s));
        }
        int a = c.axis(c.attrInt("axis", -1), r);
        if (a == r - 1) {
            return NodeContext.one(lastAxis(c, tf, x, r));
        }
        int[] perm = new int[r];
        for (int i = 0; i < r; i++) {
            perm[i] = i;
        }
        perm[a] = r - 1;
        perm[r - 1] = a;
        return NodeContext.one(o.transpose(lastAxis(c, tf, o.transpose(x, perm), r), perm));
    }

    /**
     * Softmax or LogSoftmax over the last axis. TensorFlow's C++ LogSoftmax gradient sums over axis 1 whatever the
     * rank (correct only for 2-D inputs), so LogSoftmax runs on a 2-D view.
     */
    private static Output<?> lastAxis(NodeContext c, String tf, Output<?> x, int r) {
        GraphOps o = c.ops();
        if (tf.equals("Softmax") || r == 2) {
            return o.unary(tf, x);
        }
        long[] s = Value.shapeOf(x.shape());
        long last = s == null ? -1 : s[s.length - 1];
        if (last < 0) {
            throw c.fail("LogSoftmax needs the size of the normalised axis; specialise the input shapes");
        }
        Output<?> y = o.unary(tf, o.reshape(x, -1, last));
        if (Arrays.stream(s).allMatch(d -> d >= 0)) {
            return o.reshape(y, s);
        }
        return o.op("Reshape").in(y).in(o.shapeOf(x)).out();
    }

    private static int[] range(int from, int to) {
        int[] a = new int[to - from];
        for (int i = 0; i < a.length; i++) {
            a[i] = from + i;
        }
        return a;
    }

    private static Value[] layerNorm(NodeContext c) {
        GraphOps o = c.ops();
        int r = c.rank(0);
        int a = c.axis(c.attrInt("axis", -1), r);
        float eps = c.attrFloat("epsilon", 1e-5f);
        Output<?> x = c.in(0);
        DataType dt = x.dataType();
        boolean widen = dt == DataType.DT_HALF || dt == DataType.DT_BFLOAT16;
        if (widen) {
            x = o.cast(x, DataType.DT_FLOAT);
        }
        int[] axes = range(a, r);
        Output<?> mean = o.reduce("Mean", x, true, axes);
        Output<?> centered = o.binary("Sub", x, mean);
        Output<?> var = o.reduce("Mean", o.unary("Square", centered), true, axes);
        Output<?> inv = o.unary("Rsqrt", o.binary("AddV2", var, o.scalarOf(eps, x.dataType())));
        Output<?> y = o.binary("Mul", centered, inv);
        if (widen) {
            y = o.cast(y, dt);
        }
        y = o.binary("Mul", y, c.in(1));
        if (c.has(2)) {
            y = o.binary("AddV2", y, c.in(2));
        }
        List<Value> out = new ArrayList<>();
        out.add(Value.of(y));
        if (c.wantsOutput(1)) {
            out.add(Value.of(mean));
        }
        if (c.wantsOutput(2)) {
            if (!c.wantsOutput(1)) {
                out.add(null);
            }
            out.add(Value.of(inv));
        }
        return out.toArray(new Value[0]);
    }

    /** Reshapes a per-channel vector [C] to [C, 1, ..., 1] so it broadcasts over an [N, C, ...] input. */
    private static Output<?> perChannel(GraphOps o, Output<?> v, int rank) {
        long[] s = new long[rank - 1];
        Arrays.fill(s, 1);
        s[0] = -1;
        return o.reshape(v, s);
    }

    private static Value[] instanceNorm(NodeContext c) {
        GraphOps o = c.ops();
        int r = c.rank(0);
        if (r < 3) {
            throw c.fail("input must be [N, C, D1, ...], got rank " + r);
        }
        float eps = c.attrFloat("epsilon", 1e-5f);
        Output<?> x = c.in(0);
        int[] axes = range(2, r);
        Output<?> mean = o.reduce("Mean", x, true, axes);
        Output<?> centered = o.binary("Sub", x, mean);
        Output<?> var = o.reduce("Mean", o.unary("Square", centered), true, axes);
        Output<?> y = o.binary("Mul", centered, o.unary("Rsqrt", o.binary("AddV2", var, o.scalarOf(eps, x.dataType()))));
        y = o.binary("AddV2", o.binary("Mul", y, perChannel(o, c.in(1), r)), perChannel(o, c.in(2), r));
        return NodeContext.one(y);
    }

    private static Value[] batchNorm(NodeContext c) {
        if (c.attrInt("training_mode", 0) == 1) {
            throw c.fail("training_mode=1 is not supported (inference form only)");
        }
        GraphOps o = c.ops();
        int r = c.rank(0);
        float eps = c.attrFloat("epsilon", 1e-5f);
        Output<?> x = c.in(0);
        if (r == 1) {
            throw c.fail("input must have a channel axis");
        }
        Output<?> inv = o.unary("Rsqrt", o.binary("AddV2", c.in(4), o.scalarOf(eps, x.dataType())));
        Output<?> scale = o.binary("Mul", c.in(1), inv);
        Output<?> shift = o.binary("Sub", c.in(2), o.binary("Mul", c.in(3), scale));
        return NodeContext.one(o.binary("AddV2", o.binary("Mul", x, perChannel(o, scale, r)), perChannel(o, shift, r)));
    }

    /** @return normalised reduction axes, or null for "no-op" (empty axes with noop_with_empty_axes) */
    private static int[] reduceAxes(NodeContext c, int r) {
        long[] axes;
        boolean axesAsInput = c.opset() >= 18 || (c.node().opType().equals("ReduceSum") && c.opset() >= 13);
        if (axesAsInput) {
            axes = c.has(1) ? c.constLongs(1, "axes") : null;
        } else {
            axes = c.attrInts("axes", null);
        }
        if (axes == null || axes.length == 0) {
            if (c.attrInt("noop_with_empty_axes", 0) == 1) {
                return null;
            }
            return range(0, r);
        }
        int[] out = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            out[i] = c.axis(axes[i], r);
        }
        Arrays.sort(out);
        return out;
    }

    private static Value[] reduce(NodeContext c, String tf, String pre) {
        GraphOps o = c.ops();
        int r = c.rank(0);
        int[] axes = reduceAxes(c, r);
        boolean keep = c.attrInt("keepdims", 1) == 1;
        Output<?> x = c.in(0);
        if (pre != null) {
            x = o.unary(pre, x);
        }
        if (axes == null) {
            return NodeContext.one(pre == null ? o.identity(x) : x);
        }
        return NodeContext.one(o.reduce(tf, x, keep, axes));
    }

    private static Value[] global(NodeContext c, String tf) {
        int r = c.rank(0);
        if (r < 3) {
            throw c.fail("input must be [N, C, D1, ...], got rank " + r);
        }
        return NodeContext.one(c.ops().reduce(tf, c.in(0), true, range(2, r)));
    }
}
