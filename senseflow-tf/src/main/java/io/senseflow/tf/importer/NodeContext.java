package io.senseflow.tf.importer;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.OnnxAttribute;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.graph.GraphOps;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.tensorflow.Output;

/**
 * What a handler sees of one node: its inputs (as TensorFlow outputs, or as values known at import), attributes
 * with ONNX defaults, the opset, and a builder scoped to the node. Failures name the operator, node and opset.
 */
final class NodeContext {
    /** Puts a value into the target graph. */
    interface Materializer {
        Output<?> materialize(Value v, GraphOps ops);

        /**
         * @return the value as its stored bfloat16 tensor when the import computes frozen-weight products in
         *     bfloat16 and the value is such a weight, else null
         */
        default Output<?> bfloat16Weight(Value v, GraphOps ops) {
            return null;
        }

        /** Counts a product against a bfloat16 weight: run in bfloat16, or left in float32 (no bfloat16 path). */
        default void countBfloat16(boolean inBfloat16) {
        }
    }

    private final OnnxNode node;
    private final long opset;
    private final GraphOps ops;
    private final List<Value> inputs;
    private final Materializer materializer;
    private final boolean float64;

    NodeContext(OnnxNode node, long opset, GraphOps ops, List<Value> inputs, Materializer materializer) {
        this(node, opset, ops, inputs, materializer, false);
    }

    NodeContext(OnnxNode node, long opset, GraphOps ops, List<Value> inputs, Materializer materializer,
                boolean float64) {
        this.node = node;
        this.opset = opset;
        this.ops = ops;
        this.inputs = inputs;
        this.materializer = materializer;
        this.float64 = float64;
    }

    /** @return whether float32 is imported as float64 ({@link ImportOptions#float64()}) */
    boolean float64() {
        return float64;
    }

    OnnxNode node() {
        return node;
    }

    long opset() {
        return opset;
    }

    GraphOps ops() {
        return ops;
    }

    /** @return the node name, or its first output when unnamed */
    String label() {
        return label(node);
    }

    static String label(OnnxNode n) {
        if (!n.name().isEmpty()) {
            return n.name();
        }
        return n.outputs().isEmpty() ? "(unnamed)" : n.outputs().get(0);
    }

    OnnxImportException fail(String message) {
        return new OnnxImportException("ONNX import: " + node.opType() + " (opset " + opset + ") at node '" + label()
                + "': " + message);
    }

    // ------------------------------------------------------------------ inputs

    int inputCount() {
        return inputs.size();
    }

    boolean has(int i) {
        return i < inputs.size() && inputs.get(i) != null;
    }

    Value value(int i) {
        if (!has(i)) {
            throw fail("input " + i + " is required but missing");
        }
        return inputs.get(i);
    }

    Output<?> in(int i) {
        return materialize(value(i));
    }

    Output<?> materialize(Value v) {
        return materializer.materialize(v, ops);
    }

    org.tensorflow.proto.DataType dtype(int i) {
        return value(i).dtype();
    }

    /** @return static shape of input i (-1 unknown dims) or null for unknown rank */
    long[] shape(int i) {
        return value(i).shape();
    }

    int rank(int i) {
        long[] s = shape(i);
        if (s == null) {
            throw fail("the rank of input " + i + " ('" + node.inputs().get(i) + "') is unknown; specialise the graph's"
                    + " input shapes (ImportOptions.inputShape)");
        }
        return s.length;
    }

    /** @return the fully known shape of input i, or a failure naming the input */
    long[] staticShape(int i, String why) {
        long[] s = shape(i);
        if (s == null || Arrays.stream(s).anyMatch(d -> d < 0)) {
            throw fail(why + " needs the shape of input " + i + " ('" + node.inputs().get(i) + "') to be known at import,"
                    + " but it is " + (s == null ? "of unknown rank" : Arrays.toString(s))
                    + "; specialise the graph's input shapes (ImportOptions.inputShape)");
        }
        return s;
    }

    /** @return dimension {@code axis} of input i, or -1 if unknown */
    long dim(int i, int axis) {
        long[] s = shape(i);
        return s == null ? -1 : s[axis];
    }

    boolean isConstant(int i) {
        return has(i) && inputs.get(i).isConstant();
    }

    TensorValue constant(int i, String what) {
        if (!has(i)) {
            throw fail(what + " (input " + i + ") is missing");
        }
        Value v = inputs.get(i);
        if (!v.isConstant()) {
            throw fail(what + " (input " + i + ", '" + node.inputs().get(i) + "') must be known at import (a constant or"
                    + " computable from constants and static shapes), but it depends on run-time values; specialise the"
                    + " graph's input shapes (ImportOptions.inputShape)");
        }
        return v.constant();
    }

    long[] constLongs(int i, String what) {
        TensorValue t = constant(i, what);
        if (!t.dataType().isIntegral() && t.dataType() != DataType.BOOL) {
            float[] f = t.toFloats();
            long[] out = new long[f.length];
            for (int k = 0; k < f.length; k++) {
                out[k] = (long) f[k];
            }
            return out;
        }
        return t.toLongs();
    }

    double[] constDoubles(int i, String what) {
        TensorValue t = constant(i, what);
        if (t.dataType().isIntegral()) {
            return Arrays.stream(t.toLongs()).asDoubleStream().toArray();
        }
        float[] f = t.toFloats();
        double[] d = new double[f.length];
        for (int k = 0; k < f.length; k++) {
            d[k] = f[k];
        }
        return d;
    }

    /**
     * For {@link ImportOptions#computeBfloat16()}: when one of the inputs {@code which} is a frozen weight stored in
     * bfloat16 and the others are float32, returns them all in bfloat16 (the weight as stored, the others cast) and
     * counts the product as bfloat16; otherwise null (compute in float32 as usual).
     *
     * @param which the operand indices of a matrix product
     * @return the operands in bfloat16, or null
     */
    Output<?>[] bfloat16Operands(int... which) {
        Output<?>[] stored = new Output<?>[which.length];
        boolean any = false;
        for (int k = 0; k < which.length; k++) {
            Value v = value(which[k]);
            stored[k] = materializer.bfloat16Weight(v, ops);
            if (stored[k] != null) {
                any = true;
            } else if (v.dtype() != org.tensorflow.proto.DataType.DT_FLOAT) {
                return null;
            }
        }
        if (!any) {
            return null;
        }
        Output<?>[] out = new Output<?>[which.length];
        for (int k = 0; k < which.length; k++) {
            out[k] = stored[k] != null ? stored[k] : ops.cast(in(which[k]), org.tensorflow.proto.DataType.DT_BFLOAT16);
        }
        materializer.countBfloat16(true);
        return out;
    }

    /**
     * Counts a product that stays float32 although one of the inputs {@code which} is a frozen bfloat16 weight of a
     * bfloat16-compute import (the op has no bfloat16 path here).
     *
     * @param which the operand indices
     */
    void float32Fallback(int... which) {
        for (int k : which) {
            if (has(k) && materializer.bfloat16Weight(value(k), ops) != null) {
                materializer.countBfloat16(false);
                return;
            }
        }
    }

    // ------------------------------------------------------------------ attributes

    Optional<OnnxAttribute> attr(String name) {
        return node.attribute(name);
    }

    boolean hasAttr(String name) {
        return node.attribute(name).isPresent();
    }

    long attrInt(String name, long def) {
        return node.attribute(name).map(OnnxAttribute::intValue).orElse(def);
    }

    long[] attrInts(String name, long[] def) {
        return node.attribute(name).map(OnnxAttribute::ints).orElse(def);
    }

    float attrFloat(String name, float def) {
        return node.attribute(name).map(OnnxAttribute::floatValue).orElse(def);
    }

    String attrString(String name, String def) {
        return node.attribute(name).map(OnnxAttribute::stringValue).orElse(def);
    }

    // ------------------------------------------------------------------ helpers

    /** Normalises an axis in [-rank, rank) to [0, rank). */
    int axis(long axis, int rank) {
        if (axis < -rank || axis >= rank) {
            throw fail("axis " + axis + " is outside [" + -rank + ", " + rank + ") for rank " + rank);
        }
        return (int) (axis < 0 ? axis + rank : axis);
    }

    /** @return whether output {@code k} is requested (present with a non-empty name) */
    boolean wantsOutput(int k) {
        return k < node.outputs().size() && !node.outputs().get(k).isEmpty();
    }

    static Value[] one(Output<?> o) {
        return new Value[] {Value.of(o)};
    }
}
