package io.senseflow.tf;

import io.senseflow.tf.graph.Runs;
import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.graph.TfVariable;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.ParameterStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.proto.DataType;

/**
 * A module's trainable parameters as TensorFlow variables, named by their original (ONNX) names. Reads fetch,
 * writes feed. {@link #blendFrom} and {@link #copyFrom} between two stores of the same architecture in the same
 * {@link TfWorkspace} run entirely inside TensorFlow; the blend is computed in float64 and rounded to float32, as
 * the reference definition says, so it is bit-identical to {@link ParameterStore#blendFrom}'s default. From a store
 * elsewhere (another workspace, the reference backend) the source values are fed and the blend still runs in the
 * graph.
 *
 * <p>Not thread-safe: one training loop uses it, from one thread.
 */
public final class TfParameterStore implements ParameterStore {
    private final TfWorkspace workspace;
    private final GraphOps ops;
    private final Map<String, TfVariable> vars = new LinkedHashMap<>();
    private final Map<String, Output<?>> reads = new HashMap<>();
    private final Map<TfParameterStore, Blend> blends = new HashMap<>();
    private final Map<TfParameterStore, GraphOperation> copies = new HashMap<>();
    private Blend fedBlend;
    private final Map<String, Block> blocks = new HashMap<>();

    private record Blend(Output<?> keep, Output<?> rest, Map<String, Output<?>> sources, GraphOperation op) {
    }

    /**
     * A store over variables a module built itself (outside an ONNX import), e.g. discriminator heads.
     *
     * @param workspace the workspace the variables live in
     * @param ops where the store builds its reads, blends and copies (a scope of that workspace)
     * @param variables the trainable float32 variables, initialised
     * @return the store
     */
    public static TfParameterStore of(TfWorkspace workspace, GraphOps ops, List<TfVariable> variables) {
        return new TfParameterStore(workspace, ops, variables);
    }

    TfParameterStore(TfWorkspace workspace, GraphOps ops, List<TfVariable> variables) {
        this.workspace = workspace;
        this.ops = ops;
        for (TfVariable v : variables) {
            if (v.dtype() != DataType.DT_FLOAT) {
                throw new InvalidRequestException("parameter " + v.originalName() + " is "
                        + io.senseflow.tf.graph.DataTypes.name(v.dtype()) + "; trainable parameters must be float32");
            }
            vars.put(v.originalName(), v);
        }
    }

    List<TfVariable> variables() {
        return new ArrayList<>(vars.values());
    }

    TfVariable variable(String name) {
        TfVariable v = vars.get(name);
        if (v == null) {
            throw InvalidRequestException.of("parameter", "one of " + head(vars.keySet()), name);
        }
        return v;
    }

    private static String head(java.util.Collection<String> names) {
        List<String> l = new ArrayList<>(names);
        return l.size() <= 8 ? l.toString() : l.subList(0, 8) + " and " + (l.size() - 8) + " more";
    }

    private Output<?> readOf(TfVariable v) {
        return reads.computeIfAbsent(v.originalName(), k -> v.read(ops.scoped("read")));
    }

    static int[] intShape(long[] s) {
        int[] out = new int[s.length];
        for (int i = 0; i < s.length; i++) {
            out[i] = Math.toIntExact(s[i]);
        }
        return out;
    }

    @Override
    public List<ParameterSpec> specs() {
        List<ParameterSpec> out = new ArrayList<>();
        for (TfVariable v : vars.values()) {
            out.add(new ParameterSpec(v.originalName(), intShape(v.shape())));
        }
        return out;
    }

    /**
     * Reads one parameter. TensorFlow builds (and caches) an executor per distinct set of fetched values, which in a
     * large workspace — several graph variants, backward graphs — costs seconds each time; so parameters are read in
     * fixed blocks of about {@value #BLOCK_BYTES} bytes: every read of a block fetches the same values, so its executor
     * is built once, and reading every parameter costs one executor per block instead of one per parameter.
     */
    @Override
    public Tensor read(String name) {
        TfVariable v = variable(name);
        Block b = blockOf(v.originalName());
        Runs r = new Runs(workspace.session(), "reading parameter " + name);
        for (String n : b.names()) {
            r.fetch(readOf(vars.get(n)));
        }
        try (Result res = r.run()) {
            return TfTensors.toTensor(res.get(b.names().indexOf(name)));
        }
    }

    /** One parameter fetched alone (an executor of its own): only to measure what {@link #read}'s blocks save. */
    Tensor readAlone(String name) {
        Runs r = new Runs(workspace.session(), "reading parameter " + name);
        r.fetch(readOf(variable(name)));
        try (Result res = r.run()) {
            return TfTensors.toTensor(res.get(0));
        }
    }

    /** Parameters read together (in store order, up to {@value #BLOCK_BYTES} bytes, at least one). */
    private record Block(List<String> names) {
    }

    static final long BLOCK_BYTES = 16L << 20;

    private Block blockOf(String name) {
        if (blocks.isEmpty()) {
            List<String> current = new ArrayList<>();
            long bytes = 0;
            for (TfVariable v : vars.values()) {
                long size = v.size() * 4;
                if (!current.isEmpty() && bytes + size > BLOCK_BYTES) {
                    Block b = new Block(List.copyOf(current));
                    current.forEach(n -> blocks.put(n, b));
                    current.clear();
                    bytes = 0;
                }
                current.add(v.originalName());
                bytes += size;
            }
            Block b = new Block(List.copyOf(current));
            current.forEach(n -> blocks.put(n, b));
        }
        return blocks.get(name);
    }

    @Override
    public void write(String name, Tensor value) {
        TfVariable v = variable(name);
        int[] shape = intShape(v.shape());
        if (!Arrays.equals(value.shape(), shape)) {
            throw InvalidRequestException.of("parameter " + name, "shape " + Arrays.toString(shape),
                    Arrays.toString(value.shape()));
        }
        new Runs(workspace.session(), "writing parameter " + name).feed(v.feedPlaceholder(), value)
                .target(v.assignOp()).runTargets();
    }

    /**
     * Writes the given parameters in the blocks {@link #read} uses: one run per block whose parameters are all given
     * (the same feeds each time, so one executor per block, built once), and a run of its own for each parameter of a
     * block that is given only in part. A checkpoint of a large model restores in a handful of runs instead of one
     * executor per parameter (seconds each in a workspace with backward graphs).
     */
    @Override
    public void writeAll(Map<String, Tensor> values) {
        for (Map.Entry<String, Tensor> e : values.entrySet()) {
            TfVariable v = variable(e.getKey());
            int[] shape = intShape(v.shape());
            if (!Arrays.equals(e.getValue().shape(), shape)) {
                throw InvalidRequestException.of("parameter " + e.getKey(), "shape " + Arrays.toString(shape),
                        Arrays.toString(e.getValue().shape()));
            }
        }
        java.util.Set<String> done = new java.util.HashSet<>();
        for (String name : vars.keySet()) {
            if (done.contains(name) || !values.containsKey(name)) {
                continue;
            }
            Block b = blockOf(name);
            if (values.keySet().containsAll(b.names())) {
                Runs r = new Runs(workspace.session(), "writing parameters");
                for (String n : b.names()) {
                    TfVariable v = vars.get(n);
                    r.feed(v.feedPlaceholder(), values.get(n)).target(v.assignOp());
                }
                r.runTargets();
                done.addAll(b.names());
            } else {
                write(name, values.get(name));
                done.add(name);
            }
        }
    }

    /** Reads every parameter, block by block (the executors {@link #read} uses). */
    @Override
    public Map<String, Tensor> snapshot() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : vars.keySet()) {
            if (out.containsKey(name)) {
                continue;
            }
            Block b = blockOf(name);
            Runs r = new Runs(workspace.session(), "reading parameters");
            for (String n : b.names()) {
                r.fetch(readOf(vars.get(n)));
            }
            try (Result res = r.run()) {
                for (int i = 0; i < b.names().size(); i++) {
                    out.put(b.names().get(i), TfTensors.toTensor(res.get(i)));
                }
            }
        }
        return out;
    }

    @Override
    public void blendFrom(ParameterStore source, double keep) {
        ParameterStore.requireSameArchitecture(this, source, "blendFrom");
        if (!(keep >= 0 && keep <= 1)) {
            throw InvalidRequestException.of("keep", "a weight in [0, 1]", keep);
        }
        if (vars.isEmpty()) {
            return;
        }
        Runs r = new Runs(workspace.session(), "blending parameters");
        Blend b;
        if (source instanceof TfParameterStore t && t.workspace == workspace) {
            b = blends.computeIfAbsent(t, k -> buildBlend(k));
        } else {
            if (fedBlend == null) {
                fedBlend = buildBlend(null);
            }
            b = fedBlend;
            Map<String, Tensor> theirs = source.snapshot();
            b.sources().forEach((n, p) -> r.feed(p, theirs.get(n)));
        }
        r.feed(b.keep(), keep).feed(b.rest(), 1 - keep).target(b.op()).runTargets();
    }

    /** this <- float32(keep * float64(this) + rest * float64(source)); source: another store's reads, or feeds. */
    private Blend buildBlend(TfParameterStore from) {
        GraphOps g = ops.scoped("blend");
        Output<?> keep = g.placeholder(DataType.DT_DOUBLE, org.tensorflow.ndarray.Shape.scalar(), "keep");
        Output<?> rest = g.placeholder(DataType.DT_DOUBLE, org.tensorflow.ndarray.Shape.scalar(), "rest");
        Map<String, Output<?>> sources = new LinkedHashMap<>();
        List<GraphOperation> assigns = new ArrayList<>();
        for (TfVariable v : vars.values()) {
            Output<?> theirs;
            if (from == null) {
                theirs = g.placeholder(DataType.DT_FLOAT, org.tensorflow.ndarray.Shape.of(v.shape()), "source");
                sources.put(v.originalName(), theirs);
            } else {
                theirs = from.variable(v.originalName()).read(g);
            }
            Output<?> mine = v.read(g);
            Output<?> mixed = g.binary("AddV2", g.binary("Mul", keep, g.cast(mine, DataType.DT_DOUBLE)),
                    g.binary("Mul", rest, g.cast(theirs, DataType.DT_DOUBLE)));
            assigns.add(g.op("AssignVariableOp").in(v.handle()).in(g.cast(mixed, DataType.DT_FLOAT))
                    .attr("dtype", DataType.DT_FLOAT).build());
        }
        return new Blend(keep, rest, sources, g.group("blend", assigns));
    }

    @Override
    public void copyFrom(ParameterStore source) {
        ParameterStore.requireSameArchitecture(this, source, "copyFrom");
        if (source instanceof TfParameterStore t && t.workspace == workspace) {
            if (vars.isEmpty()) {
                return;
            }
            GraphOperation op = copies.computeIfAbsent(t, k -> {
                GraphOps g = ops.scoped("copy");
                List<GraphOperation> assigns = new ArrayList<>();
                for (TfVariable v : vars.values()) {
                    assigns.add(g.op("AssignVariableOp").in(v.handle()).in(k.variable(v.originalName()).read(g))
                            .attr("dtype", DataType.DT_FLOAT).build());
                }
                return g.group("copy", assigns);
            });
            new Runs(workspace.session(), "copying parameters").target(op).runTargets();
            return;
        }
        Map<String, Tensor> theirs = source.snapshot();
        Runs r = new Runs(workspace.session(), "writing parameters");
        for (TfVariable v : vars.values()) {
            Tensor t = theirs.get(v.originalName());
            r.feed(v.feedPlaceholder(), t).target(v.assignOp());
        }
        r.runTargets();
    }
}
