package io.senseflow.tf.lora;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.graph.DataTypes;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.Runs;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.graph.TfVariable;
import io.senseflow.tf.graph.VariableInitializer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;
import org.tensorflow.Output;
import org.tensorflow.Result;

/**
 * One frozen copy of a graph's weights in a {@link TfWorkspace}, read by every module imported over it
 * ({@code ImportOptions.Builder.sharedInitializers}): with LoRA, the generator, the fake score and the EMA are three
 * adapter sets over these variables, so the base weights are held once, not once per module.
 *
 * <p>Holds the float initializers of rank 2 or more (projection matrices, convolution kernels, embedding and position
 * tables), each as a non-trainable variable with one read. Vectors and scalars (biases, norm scales, constants some
 * operators need at import) stay constants of each import: they are a small fraction of a model and keeping them
 * constant keeps the importer's folding.
 *
 * <p>Lives as long as its workspace; not thread-safe.
 */
public final class SharedBase {
    private final TfWorkspace workspace;
    private final Map<String, TfVariable> variables;
    private final Map<String, Output<?>> reads;
    private final Map<String, Output<?>> floatReads;
    private final long bytes;

    private SharedBase(TfWorkspace workspace, Map<String, TfVariable> variables, Map<String, Output<?>> reads,
                       Map<String, Output<?>> floatReads, long bytes) {
        this.workspace = workspace;
        this.variables = variables;
        this.reads = reads;
        this.floatReads = floatReads;
        this.bytes = bytes;
    }

    /**
     * Creates and initialises the variables.
     *
     * @param workspace where
     * @param graph the graph whose weights to hold
     * @param trainable initializer names that train (adapters, or anything a module trains): left out
     * @return the shared base
     */
    public static SharedBase create(TfWorkspace workspace, OnnxModel graph, Predicate<String> trainable) {
        return create(workspace, graph, trainable, false);
    }

    /**
     * Creates and initialises the variables, optionally in bfloat16: float32 weights of at least
     * {@link io.senseflow.tf.importer.ImportOptions#FROZEN_BFLOAT16_MIN_ELEMENTS} elements are then stored as
     * bfloat16 variables (rounded to nearest even) and their {@link #reads()} are bfloat16. The importer casts such a
     * read to float32 where it is used, or, with {@code ImportOptions.Builder.computeBfloat16(true)}, feeds it to the
     * matrix products as it is.
     *
     * @param workspace where
     * @param graph the graph whose weights to hold
     * @param trainable initializer names that train (adapters, or anything a module trains): left out
     * @param bfloat16 whether to store the large float32 weights as bfloat16
     * @return the shared base
     */
    public static SharedBase create(TfWorkspace workspace, OnnxModel graph, Predicate<String> trainable,
                                    boolean bfloat16) {
        Objects.requireNonNull(workspace, "workspace");
        GraphOps ops = workspace.newScope("shared_base");
        GraphOps readOps = ops.scoped("reads");
        Map<String, TfVariable> vars = new LinkedHashMap<>();
        Map<String, Output<?>> reads = new LinkedHashMap<>();
        Map<String, Output<?>> floatReads = new LinkedHashMap<>();
        long bytes = 0;
        for (TensorValue t : graph.graph().initializers()) {
            if (!t.dataType().isFloatingPoint() || t.dims().length < 2 || trainable.test(t.name())) {
                continue;
            }
            org.tensorflow.proto.DataType dt = DataTypes.toTf(t.dataType(), "initializer '" + t.name() + "'");
            TensorValue value = t;
            if (bfloat16 && dt == org.tensorflow.proto.DataType.DT_FLOAT
                    && t.elementCount() >= io.senseflow.tf.importer.ImportOptions.FROZEN_BFLOAT16_MIN_ELEMENTS) {
                value = TensorValue.ofBfloat16(t.name(), t.toFloats(), t.dims());
                dt = org.tensorflow.proto.DataType.DT_BFLOAT16;
            }
            TfVariable v = TfVariable.create(ops, t.name(), t.name(), dt, t.dims(), false, value);
            vars.put(t.name(), v);
            Output<?> read = v.read(readOps);
            reads.put(t.name(), read);
            floatReads.put(t.name(), dt == org.tensorflow.proto.DataType.DT_BFLOAT16
                    ? readOps.cast(read, org.tensorflow.proto.DataType.DT_FLOAT) : read);
            bytes += v.size() * DataTypes.byteSize(dt);
        }
        VariableInitializer.run(workspace.session(), new ArrayList<>(vars.values()));
        return new SharedBase(workspace, Collections.unmodifiableMap(vars), Collections.unmodifiableMap(reads),
                floatReads, bytes);
    }

    /**
     * @return one read per shared initializer, by initializer name (give to the import options); bfloat16 for the
     *     weights a bfloat16 base stores so
     */
    public Map<String, Output<?>> reads() {
        return reads;
    }

    /** @return the shared initializers' names, in graph order */
    public java.util.Set<String> names() {
        return variables.keySet();
    }

    /** @return the bytes the shared variables hold (one copy of the base's matrices and kernels) */
    public long bytes() {
        return bytes;
    }

    /** @return the parameters the shared variables hold */
    public long parameters() {
        long n = 0;
        for (TfVariable v : variables.values()) {
            n += v.size();
        }
        return n;
    }

    /**
     * @param name a shared initializer
     * @return its current value, read from the session (float32; a bfloat16 weight converted exactly)
     */
    public Tensor read(String name) {
        Output<?> r = floatReads.get(name);
        if (r == null) {
            throw io.senseflow.InvalidRequestException.of("shared base weight", "one of " + variables.size()
                    + " shared initializers", name);
        }
        Runs run = new Runs(workspace.session(), "reading shared base weight " + name);
        run.fetch(r);
        try (Result res = run.run()) {
            return TfTensors.toTensor(res.get(0));
        }
    }

    /**
     * Every shared weight's current value, fetched in one session run (one read per weight with {@link #read} costs a
     * run, and TensorFlow prepares each new fetch set on the whole graph: on a UNet's LoRA graph, hundreds of those
     * take minutes).
     *
     * @return the values (float32), by initializer name, in graph order
     */
    public Map<String, Tensor> readAll() {
        Runs run = new Runs(workspace.session(), "reading the " + floatReads.size() + " shared base weights");
        List<String> names = new ArrayList<>(floatReads.keySet());
        for (String n : names) {
            run.fetch(floatReads.get(n));   // float32 like read(name), also over a bfloat16 base
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Result res = run.run()) {
            for (int i = 0; i < names.size(); i++) {
                out.put(names.get(i), TfTensors.toTensor(res.get(i)));
            }
        }
        return Collections.unmodifiableMap(out);
    }

    @Override
    public String toString() {
        return "SharedBase[" + variables.size() + " weights, " + bytes + " bytes]";
    }
}
