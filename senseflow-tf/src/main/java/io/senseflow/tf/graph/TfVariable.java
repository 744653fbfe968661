package io.senseflow.tf.graph;

import io.senseflow.onnx.ir.TensorValue;
import java.util.Arrays;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * One TensorFlow resource variable ({@code VarHandleOp}) with a static shape, the ops that set it by feeding a
 * value ({@code Placeholder} + {@code AssignVariableOp}) or to zero, and where its initial value comes from.
 * Values are always fed, never embedded as constants, so the GraphDef stays small whatever the model size.
 *
 * <p>The variable's state lives in a session: create the graph's variables, then run
 * {@link VariableInitializer} on the session before use.
 *
 * <p>Not thread-safe: read and assign it from the thread that owns its workspace's session.
 */
public final class TfVariable {
    private final String originalName;
    private final DataType dtype;
    private final long[] shape;
    private final boolean trainable;
    private final TensorValue initial;
    private final Output<?> handle;
    private final Output<?> feed;
    private final GraphOperation assign;
    private final GraphOps ops;
    private GraphOperation zero;

    private TfVariable(GraphOps ops, String originalName, DataType dtype, long[] shape, boolean trainable,
                       TensorValue initial, Output<?> handle, Output<?> feed, GraphOperation assign) {
        this.ops = ops;
        this.originalName = originalName;
        this.dtype = dtype;
        this.shape = shape;
        this.trainable = trainable;
        this.initial = initial;
        this.handle = handle;
        this.feed = feed;
        this.assign = assign;
    }

    /**
     * Creates the variable's ops.
     *
     * @param ops where to build (the variable gets the scope's name plus {@code local}, without further {@code /})
     * @param local the local name (flattened: {@code /} becomes {@code _})
     * @param originalName the name checkpoints and exports use
     * @param dtype element type
     * @param shape static shape, every dimension known
     * @param trainable whether an optimizer may update it
     * @param initial the initial value, or null for zeros
     * @return the variable
     */
    public static TfVariable create(GraphOps ops, String local, String originalName, DataType dtype, long[] shape,
                                    boolean trainable, TensorValue initial) {
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("variable " + originalName + " needs a static shape, got "
                        + Arrays.toString(shape));
            }
        }
        String name = ops.uniqueName(TfNames.flat(local));
        Output<?> handle = ops.graph().opBuilder("VarHandleOp", name, ops.graph().baseScope())
                .setAttr("dtype", dtype).setAttr("shape", Shape.of(shape)).setAttr("shared_name", name)
                .build().output(0);
        GraphOps local2 = ops.scoped(name.substring(name.lastIndexOf('/') + 1));
        Output<?> feed = local2.placeholder(dtype, Shape.of(shape), "init_value");
        GraphOperation assign = local2.op("AssignVariableOp", "init").in(handle).in(feed).attr("dtype", dtype).build();
        return new TfVariable(local2, originalName, dtype, shape.clone(), trainable, initial, handle, feed, assign);
    }

    /** @return the TensorFlow op name of the handle */
    public String tfName() {
        return handle.op().name();
    }

    /** @return the original (ONNX / checkpoint) name */
    public String originalName() {
        return originalName;
    }

    /** @return element type */
    public DataType dtype() {
        return dtype;
    }

    /** @return static shape */
    public long[] shape() {
        return shape.clone();
    }

    /** @return number of elements */
    public long size() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /** @return whether an optimizer may update it */
    public boolean trainable() {
        return trainable;
    }

    /** @return the initial value, or null for zeros */
    public TensorValue initialValue() {
        return initial;
    }

    /** @return the resource handle */
    public Output<?> handle() {
        return handle;
    }

    /** @return the placeholder to feed when running {@link #assignOp()} */
    public Output<?> feedPlaceholder() {
        return feed;
    }

    /** @return the op that assigns the fed value */
    public GraphOperation assignOp() {
        return assign;
    }

    /**
     * @param where where to build the read
     * @return a new {@code ReadVariableOp} of this variable
     */
    public Output<?> read(GraphOps where) {
        return where.op("ReadVariableOp", "read_" + TfNames.flat(tfName().substring(tfName().lastIndexOf('/') + 1)))
                .in(handle).attr("dtype", dtype).out();
    }

    /** @return the op that sets the variable to zeros (built once) */
    public synchronized GraphOperation zeroOp() {
        if (zero == null) {
            Output<?> zeros = ops.op("Fill", "zeros").in(ops.longs(shape)).in(ops.scalarOf(0, dtype)).out();
            zero = ops.op("AssignVariableOp", "set_zero").in(handle).in(zeros).attr("dtype", dtype).build();
        }
        return zero;
    }

    @Override
    public String toString() {
        return originalName + Arrays.toString(shape) + (trainable ? "" : " (frozen)");
    }
}
