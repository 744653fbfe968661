package io.senseflow.tf.importer;

import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.graph.DataTypes;
import java.util.Arrays;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * One ONNX value during import: a TensorFlow output, or a tensor known at import time (a constant, a folded
 * result, a frozen initializer) that is put into the graph only when a non-folded op needs it.
 */
final class Value {
    private final DataType dtype;
    private final long[] shape;
    private final TensorValue constant;
    private Output<?> output;
    private Output<?> bfloat16;
    private long[] partial;
    private boolean[] partialKnown;

    private Value(DataType dtype, long[] shape, TensorValue constant, Output<?> output) {
        this.dtype = dtype;
        this.shape = shape;
        this.constant = constant;
        this.output = output;
    }

    /**
     * A small integer value computed at run time of which some elements are known at import (a shape with a
     * symbolic batch: {@code Shape(x) = [?, 77]}).
     *
     * @param o the run-time value
     * @param values element values (row-major), meaningful where {@code known}
     * @param known which elements are known
     * @return the value
     */
    static Value partial(Output<?> o, long[] values, boolean[] known) {
        Value v = of(o);
        v.partial = values.clone();
        v.partialKnown = known.clone();
        return v;
    }

    /** @return whether some elements are known at import although the value is computed at run time */
    boolean isPartial() {
        return partial != null;
    }

    /** @return the known element values (see {@link #partialKnown()}), or null */
    long[] partialValues() {
        return partial == null ? null : partial.clone();
    }

    /** @return which elements are known, or null */
    boolean[] partialKnown() {
        return partialKnown == null ? null : partialKnown.clone();
    }

    static Value of(Output<?> o) {
        return new Value(o.dataType(), shapeOf(o.shape()), null, o);
    }

    static Value constant(TensorValue t) {
        return new Value(DataTypes.toTf(t.dataType(), "constant '" + t.name() + "'"), t.dims(), t, null);
    }

    static long[] shapeOf(Shape s) {
        if (s.isUnknown()) {
            return null;
        }
        return s.asArray();
    }

    DataType dtype() {
        return dtype;
    }

    /** @return the static shape (-1 for unknown dimensions), or null for unknown rank */
    long[] shape() {
        return shape == null ? null : shape.clone();
    }

    boolean isConstant() {
        return constant != null;
    }

    TensorValue constant() {
        return constant;
    }

    Output<?> output() {
        return output;
    }

    void setOutput(Output<?> o) {
        this.output = o;
    }

    /** @return the stored bfloat16 tensor a float32 {@link #output()} is cast from (frozen bfloat16), or null */
    Output<?> bfloat16() {
        return bfloat16;
    }

    void setBfloat16(Output<?> o) {
        this.bfloat16 = o;
    }

    @Override
    public String toString() {
        return DataTypes.name(dtype) + (shape == null ? "[?]" : Arrays.toString(shape)) + (constant != null ? " const" : "");
    }
}
