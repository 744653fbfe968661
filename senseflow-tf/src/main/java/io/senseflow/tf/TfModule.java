package io.senseflow.tf;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.graph.DataTypes;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.importer.ImportedGraph;
import io.senseflow.tf.importer.OnnxImporter;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Optimizer;
import io.senseflow.train.ParameterStore;
import io.senseflow.train.Upstream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * A {@link DifferentiableModule} running an imported ONNX graph in TensorFlow (DESIGN.md, "The seam"): forward,
 * vector-Jacobian products from an explicit upstream gradient or an in-graph loss form evaluated in the same session
 * run as the forward, named parameters as TensorFlow variables, and AdamW over exactly this module's parameters.
 *
 * <pre>{@code
 * try (TfModule g = TfModule.builder(OnnxModel.read(path))
 *         .input(InputBinding.of(ModuleInputs.X, "sample"))
 *         .input(InputBinding.of(ModuleInputs.SIGMA, "timestep").scaled(1000))
 *         .input(InputBinding.of(ModuleInputs.TOKENS, "encoder_hidden_states"))
 *         .output("out_sample").outputLike(ModuleInputs.X)
 *         .importOptions(ImportOptions.builder().inputShape("sample", 4, 16, 32, 32).build())
 *         .optimizer(AdamWConfig.released())
 *         .build()) { ... }
 * }</pre>
 *
 * <p>Gradient accumulators are TensorFlow variables (never copied to Java unless read). In
 * {@link GradientMode#INPUTS} the accumulate op is simply not run, so accumulated parameter gradients stay exactly as
 * they were; a module without an optimizer (frozen) offers input-only backward. Not thread-safe.
 */
public final class TfModule implements DifferentiableModule {
    private final String name;
    private final TfWorkspace workspace;
    private final boolean ownsWorkspace;
    private final GraphOps ops;
    private final ImportedGraph graph;
    private final List<Bound> inputs;
    private final Output<?> output;
    private final String outputLike;
    private final TfParameterStore parameters;
    private final TfAdamW optimizer;
    private final Map<BackwardGraph.Form, BackwardGraph> backward = new EnumMap<>(BackwardGraph.Form.class);
    private boolean closed;

    private record Bound(InputBinding binding, Output<?> placeholder, long[] shape) {
    }

    private TfModule(Builder b) {
        Objects.requireNonNull(b.model, "model");
        this.name = b.name;
        this.ownsWorkspace = b.workspace == null;
        this.workspace = ownsWorkspace ? TfWorkspace.create(b.sessionOptions) : b.workspace;
        try {
            this.ops = workspace.newScope(b.name);
            ImportOptions importOptions = b.importOptions;
            OnnxImporter importer = new OnnxImporter(b.model, importOptions);
            Map<String, ValueInfo> declared = importer.declaredInputs();
            this.inputs = new ArrayList<>();
            Map<String, Output<?>> provided = new LinkedHashMap<>();
            GraphOps in = ops.scoped("inputs");
            for (InputBinding binding : b.bindings) {
                ValueInfo info = declared.get(binding.graphInput());
                if (info == null) {
                    throw InvalidRequestException.of("input binding " + binding.moduleInput(), "a graph input, one of "
                            + declared.keySet(), binding.graphInput());
                }
                long[] shape = importOptions.inputShape(binding.graphInput());
                if (shape == null) {
                    shape = declaredShape(info);
                }
                Output<?> p = in.placeholder(DataType.DT_FLOAT, shape == null ? Shape.unknown() : Shape.of(shape),
                        binding.moduleInput());
                Output<?> fed = p;
                if (binding.scale() != 1) {
                    fed = in.binary("Mul", fed, in.scalar((float) binding.scale()));
                }
                DataType want = DataTypes.toTf(info.elementType(), "graph input '" + binding.graphInput() + "'");
                if (DataTypes.isInteger(want)) {
                    fed = in.unary("Round", fed); // ids fed as floats
                }
                fed = in.cast(fed, want);
                provided.put(binding.graphInput(), fed);
                inputs.add(new Bound(binding, p, shape));
            }
            for (String gi : declared.keySet()) {
                if (!provided.containsKey(gi)) {
                    throw new InvalidRequestException("module " + name + ": graph input '" + gi + "' has no binding; add"
                            + " one with Builder.input(InputBinding.of(<module input>, \"" + gi + "\"))");
                }
            }
            String out = b.output != null ? b.output : b.model.graph().outputs().get(0).name();
            ImportOptions withOutput = importOptions.toBuilder().outputs(out).build();
            this.graph = new OnnxImporter(b.model, withOutput).importInto(workspace.graph(), ops.scope() + "/graph",
                    provided, new LinkedHashMap<>());
            Output<?> y = graph.output(out);
            this.output = y.dataType() == DataType.DT_FLOAT ? y : ops.cast(y, DataType.DT_FLOAT);
            this.outputLike = b.outputLike;
            graph.initializeVariables(workspace.session());
            this.parameters = new TfParameterStore(workspace, ops.scoped("params"), graph.trainableVariables());
            this.optimizer = b.optimizer == null ? null
                    : new TfAdamW(workspace, ops.scoped("adamw"), parameters, b.optimizer);
        } catch (RuntimeException e) {
            if (ownsWorkspace) {
                workspace.close();
            }
            throw e;
        }
    }

    private static long[] declaredShape(ValueInfo info) {
        if (info.shape() == null) {
            return null;
        }
        return info.shape().stream().mapToLong(d -> d instanceof Dim.Fixed f ? f.value() : -1).toArray();
    }

    /** @param model the ONNX graph @return a builder */
    public static Builder builder(OnnxModel model) {
        return new Builder(model);
    }

    /** @return the module's name (its scope in the workspace) */
    public String name() {
        return name;
    }

    /** @return the workspace the module lives in */
    public TfWorkspace workspace() {
        return workspace;
    }

    /** @return the imported graph (inputs, outputs, variables, name map) */
    public ImportedGraph importedGraph() {
        return graph;
    }

    // ------------------------------------------------------------------ forward

    private void feedInputs(Runs r, ModuleInputs in) {
        for (Bound b : inputs) {
            r.feed(b.placeholder(), adapt(in.get(b.binding().moduleInput()), b.shape(), "input " + b.binding().moduleInput()));
        }
    }

    /** Reshapes a tensor to a placeholder's layout when only the layout differs. */
    private Tensor adapt(Tensor t, long[] shape, String what) {
        if (shape == null) {
            return t;
        }
        int[] s = t.shape();
        boolean same = s.length == shape.length;
        for (int i = 0; same && i < s.length; i++) {
            same = shape[i] < 0 || shape[i] == s[i];
        }
        if (same) {
            return t;
        }
        int unknown = 0;
        long known = 1;
        int[] target = new int[shape.length];
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < 0) {
                unknown++;
                target[i] = -1;
            } else {
                known *= shape[i];
                target[i] = (int) shape[i];
            }
        }
        if (unknown > 1 || (unknown == 0 && known != t.size()) || (unknown == 1 && (known == 0 || t.size() % known != 0))) {
            throw InvalidRequestException.of("module " + name + " " + what, "a tensor of shape " + Arrays.toString(shape)
                    + " (or the same number of elements)", Arrays.toString(s));
        }
        return t.reshape(target);
    }

    private Tensor shapeOutput(Tensor y, ModuleInputs in) {
        if (outputLike == null) {
            return y;
        }
        Tensor like = in.get(outputLike);
        return like.size() == y.size() ? y.reshape(like.shape()) : y;
    }

    @Override
    public Tensor forward(ModuleInputs in) {
        ensureOpen();
        Runs r = new Runs(workspace.session(), "forward of module " + name);
        feedInputs(r, in);
        r.fetch(output);
        try (Result res = r.run()) {
            return shapeOutput(TfTensors.toTensor(res.get(0)), in);
        }
    }

    // ------------------------------------------------------------------ backward

    private BackwardGraph backwardGraph(BackwardGraph.Form form) {
        return backward.computeIfAbsent(form, f -> {
            Map<String, Output<?>> params = new LinkedHashMap<>();
            if (optimizer != null) {
                graph.variableReads().forEach((k, v) -> {
                    if (graph.trainableVariables().stream().anyMatch(t -> t.originalName().equals(k))) {
                        params.put(k, v);
                    }
                });
            }
            Map<String, Output<?>> ins = new LinkedHashMap<>();
            for (Bound b : inputs) {
                if (b.binding().differentiable()) {
                    ins.put(b.binding().moduleInput(), b.placeholder());
                }
            }
            return BackwardGraph.build(ops.scoped("backward_" + f.name().toLowerCase(java.util.Locale.ROOT)), output, f,
                    params, ins, optimizer);
        });
    }

    private int batchOf(ModuleInputs in) {
        if (in.getOrNull(ModuleInputs.X) != null) {
            return in.batch();
        }
        return in.get(inputs.get(0).binding().moduleInput()).batch();
    }

    @Override
    public BackwardResult backward(ModuleInputs in, Upstream upstream, GradientMode mode) {
        ensureOpen();
        if (mode.parameters() && optimizer == null) {
            throw new InvalidRequestException("backward of module " + name + ": the module is frozen (no optimizer); use"
                    + " GradientMode.INPUTS");
        }
        BackwardGraph.Form form = BackwardGraph.Form.of(upstream);
        BackwardGraph bg = backwardGraph(form);
        Runs r = new Runs(workspace.session(), "backward of module " + name);
        feedInputs(r, in);
        long[] outShape = Value.shape(output);
        switch (form) {
            case EXPLICIT -> r.feed(bg.upstream, adapt(((Upstream.Explicit) upstream).gradient(), outShape, "upstream gradient"));
            default -> {
                int batch = batchOf(in);
                float[] w = upstream.weights();
                if (w == null) {
                    w = new float[batch];
                    Arrays.fill(w, 1f);
                } else if (w.length != batch) {
                    throw InvalidRequestException.of("upstream weights", batch + " per-sample values", w.length);
                }
                r.feed(bg.weights, Tensor.of(w, w.length));
                if (upstream instanceof Upstream.Linear l) {
                    r.feed(bg.scale, l.scale());
                } else if (upstream instanceof Upstream.Mse m) {
                    r.feed(bg.target, adapt(m.target(), outShape, "mse target"));
                } else if (upstream instanceof Upstream.Hinge h) {
                    r.feed(bg.sign, (float) h.sign());
                    r.feed(bg.negSign, (float) -h.sign());
                }
            }
        }
        int outIndex = r.fetch(output);
        int lossIndex = bg.loss == null ? -1 : r.fetch(bg.loss);
        Map<String, Integer> gradIndex = new LinkedHashMap<>();
        if (mode.inputs()) {
            bg.inputGradients.forEach((k, g) -> gradIndex.put(k, r.fetch(g)));
        }
        if (mode.parameters() && bg.accumulate != null) {
            r.target(bg.accumulate);
        }
        try (Result res = r.run()) {
            Tensor y = shapeOutput(TfTensors.toTensor(res.get(outIndex)), in);
            double loss = lossIndex < 0 ? Double.NaN : TfTensors.scalarValue(res.get(lossIndex));
            Map<String, Tensor> grads = new LinkedHashMap<>();
            if (mode.inputs()) {
                for (Bound b : inputs) {
                    String k = b.binding().moduleInput();
                    if (!b.binding().differentiable()) {
                        continue;
                    }
                    Tensor given = in.get(k);
                    Integer idx = gradIndex.get(k);
                    grads.put(k, idx == null ? Tensor.zeros(given.shape())
                            : TfTensors.toTensor(res.get(idx)).reshape(given.shape()));
                }
            }
            return new BackwardResult(loss, y, grads);
        }
    }

    /** Static shape helper. */
    private static final class Value {
        static long[] shape(Output<?> o) {
            Shape s = o.shape();
            return s.isUnknown() ? null : s.asArray();
        }
    }

    @Override
    public ParameterStore parameters() {
        ensureOpen();
        return parameters;
    }

    @Override
    public Optimizer optimizer() {
        return optimizer;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("TfModule " + name + " is closed");
        }
        workspace.ensureOpen();
    }

    /** Closes the module; when it created its own workspace, the workspace (graph, session, variables) too. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (ownsWorkspace) {
                workspace.close();
            }
        }
    }

    /** Builder of {@link TfModule}. */
    public static final class Builder {
        private final OnnxModel model;
        private String name = "module";
        private TfWorkspace workspace;
        private TfSessionOptions sessionOptions = TfSessionOptions.defaults();
        private ImportOptions importOptions = ImportOptions.defaults();
        private final List<InputBinding> bindings = new ArrayList<>();
        private String output;
        private String outputLike;
        private AdamWConfig optimizer;

        private Builder(OnnxModel model) {
            this.model = model;
        }

        /** @param n the module's name (scope in the workspace, used in messages) @return this */
        public Builder name(String n) {
            this.name = n;
            return this;
        }

        /** @param w a shared workspace (the caller closes it); default: the module's own @return this */
        public Builder workspace(TfWorkspace w) {
            this.workspace = w;
            return this;
        }

        /** @param o session settings of the module's own workspace @return this */
        public Builder sessionOptions(TfSessionOptions o) {
            this.sessionOptions = o;
            return this;
        }

        /** @param o import settings (shapes, trainable parameters) @return this */
        public Builder importOptions(ImportOptions o) {
            this.importOptions = o;
            return this;
        }

        /** @param b one input binding @return this */
        public Builder input(InputBinding b) {
            bindings.add(b);
            return this;
        }

        /** @param graphOutput the primary output (default: the graph's first output) @return this */
        public Builder output(String graphOutput) {
            this.output = graphOutput;
            return this;
        }

        /** @param moduleInput give outputs this input's shape when the sizes agree (e.g. x) @return this */
        public Builder outputLike(String moduleInput) {
            this.outputLike = moduleInput;
            return this;
        }

        /** @param config AdamW settings; null (the default) for a frozen module @return this */
        public Builder optimizer(AdamWConfig config) {
            this.optimizer = config;
            return this;
        }

        /** @return the module */
        public TfModule build() {
            if (bindings.isEmpty()) {
                throw new InvalidRequestException("module " + name + ": no input bindings");
            }
            return new TfModule(this);
        }
    }
}
