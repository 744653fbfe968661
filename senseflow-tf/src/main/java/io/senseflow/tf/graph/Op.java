package io.senseflow.tf.graph;

import io.senseflow.BackendException;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operation;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * A fluent wrapper over TensorFlow's {@link OperationBuilder} for one graph operation.
 *
 * <p>Not thread-safe: a handle into a graph under construction; use it from the thread that builds the graph.
 */
public final class Op {
    private final OperationBuilder builder;
    private final String type;
    private final String name;

    Op(OperationBuilder builder, String type, String name) {
        this.builder = builder;
        this.type = type;
        this.name = name;
    }

    /** @param x an input @return this */
    public Op in(Output<?> x) {
        builder.addInput(x);
        return this;
    }

    /** @param xs a list input @return this */
    public Op inList(Output<?>... xs) {
        builder.addInputList(xs);
        return this;
    }

    /** @param op a control dependency @return this */
    public Op control(Operation op) {
        builder.addControlInput(op);
        return this;
    }

    /** @param key attribute @param v value @return this */
    public Op attr(String key, long v) {
        builder.setAttr(key, v);
        return this;
    }

    /** @param key attribute @param v value @return this */
    public Op attr(String key, long[] v) {
        builder.setAttr(key, v);
        return this;
    }

    /** @param key attribute @param v value @return this */
    public Op attr(String key, float v) {
        builder.setAttr(key, v);
        return this;
    }

    /** @param key attribute @param v value @return this */
    public Op attr(String key, boolean v) {
        builder.setAttr(key, v);
        return this;
    }

    /** @param key attribute @param v value @return this */
    public Op attr(String key, String v) {
        builder.setAttr(key, v);
        return this;
    }

    /** @param key attribute @param v value @return this */
    public Op attr(String key, DataType v) {
        builder.setAttr(key, v);
        return this;
    }

    /** @param key attribute @param v value @return this */
    public Op attr(String key, Shape v) {
        builder.setAttr(key, v);
        return this;
    }

    /** @param key attribute @param v value (copied into the graph) @return this */
    public Op attr(String key, org.tensorflow.Tensor v) {
        builder.setAttr(key, v);
        return this;
    }

    /** @return the built operation */
    public GraphOperation build() {
        try {
            return (GraphOperation) builder.build();
        } catch (RuntimeException e) {
            throw new BackendException("TensorFlow refused op " + type + " '" + name + "': " + Runs.firstLine(e.getMessage()), e);
        }
    }

    /** @return output 0 of the built operation */
    public Output<?> out() {
        return build().output(0);
    }
}
