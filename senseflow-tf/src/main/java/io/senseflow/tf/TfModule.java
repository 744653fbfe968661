package io.senseflow.tf;

import io.senseflow.tf.graph.Runs;
import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.graph.DataTypes;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.graph.TfVariable;
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
 * <p>Input shapes: the graph is imported once with the shapes of {@link ImportOptions} (or as declared). Graphs
 * whose shape arithmetic needs static sizes (most exports) are specialised to one batch size that way; with
 * {@link Builder#specialisePerShape(boolean)} the module imports another copy of the graph, over the same
 * variables, for each new combination of input shapes it is called with.
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
    private final OnnxModel model;
    private final ImportOptions importOptions;
    private final List<InputBinding> bindings;
    private final Map<String, ValueInfo> declared;
    private final String outputName;
    private final List<String> outputNames;
    private final String outputLike;
    private final boolean specialise;
    private final Map<String, String> buffers;
    private final boolean lazy;
    private final Map<String, TfVariable> variables = new LinkedHashMap<>();
    private final List<Variant> variants = new ArrayList<>();
    private final TfParameterStore parameters;
    private final TfAdamW optimizer;
    private boolean closed;

    /**
     * One bound input of a variant: its placeholder and static shape (null: unknown rank; -1: dynamic), whether the
     * graph input is a rank-0 scalar (fed from a uniform batch) and whether its type is an integer (ids: no gradient).
     */
    private record Bound(InputBinding binding, Output<?> placeholder, long[] shape, boolean scalar, boolean integer) {
    }

    /** The graph imported for one set of input shapes, over the module's variables. */
    private static final class Variant {
        final List<Bound> inputs;
        final ImportedGraph graph;
        final Output<?> output;
        final Map<String, Output<?>> outputs;
        final Map<BackwardGraph.Form, BackwardGraph> backward = new EnumMap<>(BackwardGraph.Form.class);

        Variant(List<Bound> inputs, ImportedGraph graph, Output<?> output, Map<String, Output<?>> outputs) {
            this.inputs = inputs;
            this.graph = graph;
            this.output = output;
            this.outputs = outputs;
        }
    }

    private TfModule(Builder b) {
        Objects.requireNonNull(b.model, "model");
        this.name = b.name;
        this.model = b.model;
        this.bindings = List.copyOf(b.bindings);
        this.outputLike = b.outputLike;
        this.specialise = b.specialise;
        this.ownsWorkspace = b.workspace == null;
        this.workspace = ownsWorkspace ? TfWorkspace.create(b.sessionOptions) : b.workspace;
        try {
            this.ops = workspace.newScope(b.name);
            this.outputName = b.output != null ? b.output : b.model.graph().outputs().get(0).name();
            List<String> outs = new ArrayList<>();
            outs.add(outputName);
            b.moreOutputs.stream().filter(o -> !outs.contains(o)).forEach(outs::add);
            this.outputNames = List.copyOf(outs);
            this.buffers = b.trainBuffers ? Map.of() : ModelBuffers.of(b.model);
            ImportOptions base = b.importOptions;
            ImportOptions.Builder ob = base.toBuilder().outputs(outputNames.toArray(new String[0]));
            if (!buffers.isEmpty()) {
                ob.trainable(n -> base.isTrainable(n) && !buffers.containsKey(n), base + " without the source model's"
                        + " buffers " + buffers.keySet());
            }
            this.importOptions = ob.build();
            this.declared = new OnnxImporter(b.model, importOptions).declaredInputs();
            Map<String, long[]> shapes = new LinkedHashMap<>();
            boolean allStatic = true;
            for (InputBinding binding : bindings) {
                ValueInfo info = declared.get(binding.graphInput());
                if (info == null) {
                    throw InvalidRequestException.of("input binding " + binding.moduleInput(), "a graph input, one of "
                            + declared.keySet(), binding.graphInput());
                }
                if (importOptions.constantInput(binding.graphInput()) != null) {
                    throw InvalidRequestException.of("input binding " + binding.moduleInput(), "a graph input that is"
                            + " not bound to a constant (ImportOptions.constantInput)", binding.graphInput());
                }
                long[] shape = importOptions.inputShape(binding.graphInput());
                shape = shape != null ? shape : declaredShape(info);
                shapes.put(binding.graphInput(), shape);
                allStatic &= shape != null && Arrays.stream(shape).allMatch(d -> d >= 0);
            }
            for (String gi : declared.keySet()) {
                if (!shapes.containsKey(gi) && importOptions.constantInput(gi) == null) {
                    throw new InvalidRequestException("module " + name + ": graph input '" + gi + "' has no binding; add"
                            + " one with Builder.input(InputBinding.of(<module input>, \"" + gi + "\"))");
                }
            }
            Variant first = allStatic ? importVariant(shapes) : tryDynamicImport(shapes);
            this.lazy = first == null;
            List<TfVariable> trainable = lazy ? createPlannedVariables() : first.graph.trainableVariables();
            this.parameters = new TfParameterStore(workspace, ops.scoped("params"), trainable);
            this.optimizer = b.optimizer == null ? null
                    : new TfAdamW(workspace, ops.scoped("adamw"), parameters, b.optimizer);
        } catch (RuntimeException e) {
            if (ownsWorkspace) {
                workspace.close();
            }
            throw e;
        }
    }

    /**
     * Graph inputs with symbolic or unknown sizes: imports them dynamic when the graph allows it (one variant for
     * every size); when its shape arithmetic needs static sizes (a Conv's spatial size, a Reshape computed from a
     * symbolic dimension), nothing is kept and the module imports a variant per call shape instead.
     *
     * @return the dynamic variant, or null for a module that imports at its first call
     */
    private Variant tryDynamicImport(Map<String, long[]> shapes) {
        java.util.Set<String> before = new java.util.HashSet<>(variables.keySet());
        try {
            return importVariant(shapes);
        } catch (io.senseflow.tf.importer.UnsupportedOperatorException e) {
            throw e;
        } catch (io.senseflow.tf.importer.OnnxImportException e) {
            variables.keySet().retainAll(before); // created by the abandoned import, never initialised
            variants.clear();
            org.slf4j.LoggerFactory.getLogger(TfModule.class).debug("module {}: the graph does not import with its"
                    + " symbolic input sizes ({}); it is imported per call shape", name, Runs.firstLine(e.getMessage()));
            return null;
        }
    }

    /** The parameters of a module that imports at its first call, created (and initialised) before any import. */
    private List<TfVariable> createPlannedVariables() {
        List<TfVariable> out = new ArrayList<>();
        GraphOps vars = ops.scoped("vars");
        for (io.senseflow.onnx.ir.TensorValue t : ParameterPlan.of(model, importOptions).values()) {
            DataType dt = DataTypes.toTf(t.dataType(), "initializer '" + t.name() + "'");
            TfVariable v = TfVariable.create(vars, t.name(), t.name(), dt, t.dims(), true, t);
            variables.put(t.name(), v);
            out.add(v);
        }
        io.senseflow.tf.graph.VariableInitializer.run(workspace.session(), out);
        return out;
    }

    private static boolean isScalar(ValueInfo info) {
        return info.shape() != null && info.shape().isEmpty();
    }

    private Variant importVariant(Map<String, long[]> shapes) {
        GraphOps scope = ops.scoped(variants.isEmpty() ? "v" : "v" + variants.size());
        GraphOps in = scope.scoped("inputs");
        List<Bound> inputs = new ArrayList<>();
        Map<String, Output<?>> provided = new LinkedHashMap<>();
        ImportOptions.Builder opts = importOptions.toBuilder();
        for (InputBinding binding : bindings) {
            ValueInfo info = declared.get(binding.graphInput());
            long[] shape = shapes.get(binding.graphInput());
            if (shape != null) {
                opts.inputShape(binding.graphInput(), shape);
            }
            Output<?> p = in.placeholder(DataType.DT_FLOAT, shape == null ? Shape.unknown() : Shape.of(shape),
                    binding.moduleInput());
            provided.put(binding.graphInput(), applyBinding(in, binding, info, p));
            DataType graphType = DataTypes.toTf(info.elementType(), "graph input '" + binding.graphInput() + "'");
            inputs.add(new Bound(binding, p, shape, isScalar(info), graphType != DataType.DT_FLOAT
                    && !DataTypes.isFloating(graphType)));
        }
        ImportedGraph g = importOver(opts.build(), scope.scope() + "/graph", provided);
        Map<String, Output<?>> outs = new LinkedHashMap<>();
        for (String o : outputNames) {
            Output<?> y = g.output(o);
            outs.put(o, y.dataType() == DataType.DT_FLOAT ? y : scope.cast(y, DataType.DT_FLOAT));
        }
        Variant v = new Variant(inputs, g, outs.get(outputName), outs);
        variants.add(v);
        return v;
    }

    /** graph input = cast(scale * module input), ids rounded (they arrive as floats). */
    private static Output<?> applyBinding(GraphOps in, InputBinding binding, ValueInfo info, Output<?> value) {
        Output<?> fed = value;
        if (binding.scale() != 1) {
            fed = in.binary("Mul", fed, in.scalar((float) binding.scale()));
        }
        DataType want = DataTypes.toTf(info.elementType(), "graph input '" + binding.graphInput() + "'");
        if (DataTypes.isInteger(want)) {
            fed = in.unary("Round", fed);
        }
        return in.cast(fed, want);
    }

    /** Imports the model over this module's variables and initialises the variables it had to create. */
    private ImportedGraph importOver(ImportOptions options, String scope, Map<String, Output<?>> provided) {
        java.util.Set<String> before = new java.util.HashSet<>(variables.keySet());
        ImportedGraph g = new OnnxImporter(model, options).importInto(workspace.graph(), scope, provided, variables);
        List<TfVariable> fresh = new ArrayList<>();
        variables.forEach((k, v) -> {
            if (!before.contains(k)) {
                fresh.add(v);
            }
        });
        io.senseflow.tf.graph.VariableInitializer.run(workspace.session(), fresh);
        return g;
    }

    /**
     * Imports this module's graph once more into its workspace, over the module's own variables, as a view for
     * another module to look inside: any intermediate value may be requested as an output, and nothing built on
     * the view enters this module's gradient accumulators or optimizer (only this module's backward graphs
     * accumulate). The view's inputs go through this module's bindings (scale, cast). Variables are shared, so
     * the view always sees the current parameters (after optimizer steps, IDA blends, writes). Used by the
     * discriminator on the fake score's features (DMD2 style).
     *
     * @param scope where to build, a scope of this module's workspace
     * @param moduleInputs a float32 value per bound module input ({@code x}, {@code sigma}, ...), shaped like the
     *     graph input it feeds; static shapes specialise the import
     * @param outputs the values to import (graph outputs or intermediate value names)
     * @return the imported view
     */
    public ImportedGraph importView(GraphOps scope, Map<String, Output<?>> moduleInputs, List<String> outputs) {
        ensureOpen();
        if (outputs.isEmpty()) {
            throw InvalidRequestException.of("view of module " + name + ": outputs", "at least one value name", outputs);
        }
        ImportOptions.Builder opts = importOptions.toBuilder().outputs(outputs.toArray(new String[0]));
        Map<String, Output<?>> provided = new LinkedHashMap<>();
        for (InputBinding binding : bindings) {
            Output<?> given = moduleInputs.get(binding.moduleInput());
            if (given == null) {
                throw InvalidRequestException.of("view of module " + name + ": module input '" + binding.moduleInput()
                        + "'", "a value (the module binds " + bindings.stream().map(InputBinding::moduleInput).toList()
                        + ")", "none");
            }
            Shape s = given.shape();
            if (!s.isUnknown()) {
                opts.inputShape(binding.graphInput(), s.asArray());
            }
            provided.put(binding.graphInput(), applyBinding(scope.scoped("inputs"), binding,
                    declared.get(binding.graphInput()), given));
        }
        return importOver(opts.build(), scope.scope() + "/graph", provided);
    }

    /** @return the ONNX model the module runs */
    public OnnxModel model() {
        return model;
    }

    /** @return the input bindings, in order */
    public List<InputBinding> bindings() {
        return bindings;
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

    /**
     * @return the first imported variant of the graph (inputs, outputs, variables, name map): the one imported at
     *     construction, or, for a module whose graph needs static sizes its options leave open, the one imported at its
     *     first call
     * @throws IllegalStateException if the module imports at its first call and has not been called yet
     */
    public ImportedGraph importedGraph() {
        if (variants.isEmpty()) {
            throw new IllegalStateException("module " + name + " imports its graph at the first call (its inputs have"
                    + " symbolic sizes the graph's shape arithmetic needs); call forward or backward first");
        }
        return variants.get(0).graph;
    }

    /**
     * @return whether the graph is imported per call shape, at the first call with each new combination of input
     *     shapes (its inputs have symbolic sizes that its shape arithmetic needs as numbers)
     */
    public boolean importsPerCallShape() {
        return lazy;
    }

    /**
     * @return the initializers kept frozen because they are buffers of the source model, each with the reason
     *     ({@link ModelBuffers}); empty when built with {@code trainBuffers(true)}
     */
    public Map<String, String> frozenBuffers() {
        return buffers;
    }

    /** @return the outputs the module computes: the primary one first, then those of {@code Builder.outputs} */
    public List<String> outputNames() {
        return outputNames;
    }

    /** @return how many input-shape variants of the graph have been imported */
    public int variantCount() {
        return variants.size();
    }

    // ------------------------------------------------------------------ inputs

    /** @return the shape to feed a tensor as, or null if it does not fit a placeholder of {@code shape} */
    private static int[] fit(Tensor t, long[] shape) {
        int[] s = t.shape();
        if (shape == null) {
            return s;
        }
        boolean same = s.length == shape.length;
        for (int i = 0; same && i < s.length; i++) {
            same = shape[i] < 0 || shape[i] == s[i];
        }
        if (same) {
            return s;
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
            return null;
        }
        if (unknown == 1) {
            for (int i = 0; i < target.length; i++) {
                if (target[i] < 0) {
                    target[i] = (int) (t.size() / known);
                }
            }
        }
        return target;
    }

    private static boolean fits(Tensor t, Bound b) {
        return b.scalar() ? t.size() >= 1 : fit(t, b.shape()) != null;
    }

    private Variant variantFor(ModuleInputs in) {
        for (Variant v : variants) {
            boolean ok = true;
            for (Bound b : v.inputs) {
                ok &= fits(in.get(b.binding().moduleInput()), b);
            }
            if (ok) {
                return v;
            }
        }
        // a new variant with every graph input fixed to what this call feeds: within the import options' shapes, or,
        // with specialisePerShape, within the graph's declared shapes
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (InputBinding binding : bindings) {
            Tensor t = in.get(binding.moduleInput());
            ValueInfo info = declared.get(binding.graphInput());
            if (isScalar(info)) {
                shapes.put(binding.graphInput(), new long[0]);
                continue;
            }
            long[] given = importOptions.inputShape(binding.graphInput());
            long[] decl = declaredShape(info);
            int[] s = fit(t, given != null ? given : decl);
            if (s == null && !specialise) {
                long[] want = !variants.isEmpty() ? variants.get(0).inputs.get(bindings.indexOf(binding)).shape()
                        : given;
                throw InvalidRequestException.of("module " + name + " input " + binding.moduleInput(),
                        "a tensor of shape " + Arrays.toString(want) + " (or the same layout with that many"
                                + " elements; build with specialisePerShape(true) to accept other shapes)",
                        Arrays.toString(t.shape()));
            }
            if (s == null) {
                s = fit(t, decl);
            }
            if (s == null) {
                throw InvalidRequestException.of("module " + name + " input " + binding.moduleInput(),
                        "a tensor fitting the graph input's shape " + Arrays.toString(decl), Arrays.toString(t.shape()));
            }
            shapes.put(binding.graphInput(), Arrays.stream(s).asLongStream().toArray());
        }
        return importVariant(shapes);
    }

    private void feedInputs(Runs r, Variant v, ModuleInputs in) {
        for (Bound b : v.inputs) {
            Tensor t = in.get(b.binding().moduleInput());
            r.feed(b.placeholder(), b.scalar() ? uniformValue(b, t) : t.reshape(fit(t, b.shape())));
        }
    }

    /**
     * A rank-0 graph input (Optimum's SDXL UNet takes one {@code timestep} for the whole batch) is fed from the
     * per-sample module input when every sample has the same value.
     */
    private Tensor uniformValue(Bound b, Tensor t) {
        float[] a = t.toArray();
        for (int i = 1; i < a.length; i++) {
            if (Float.floatToIntBits(a[i]) != Float.floatToIntBits(a[0])) {
                java.util.TreeSet<Float> distinct = new java.util.TreeSet<>();
                for (float f : a) {
                    distinct.add(f);
                }
                throw InvalidRequestException.of("module " + name + " input " + b.binding().moduleInput()
                        + " (graph input '" + b.binding().graphInput() + "', a rank-0 scalar for the whole batch)",
                        "the same value for every sample of the batch (call with a uniform batch, e.g. batch size 1,"
                                + " or use a graph with a per-sample input)", a.length + " values with " + distinct.size()
                                + " distinct: " + (distinct.size() <= 6 ? distinct.toString()
                                : distinct.headSet(distinct.first(), true) + " ... " + distinct.last()));
            }
        }
        return Tensor.of(new float[] {a[0]});
    }

    private Tensor shapeOutput(Tensor y, ModuleInputs in) {
        if (outputLike == null) {
            return y;
        }
        Tensor like = in.get(outputLike);
        return like.size() == y.size() ? y.reshape(like.shape()) : y;
    }

    // ------------------------------------------------------------------ forward

    @Override
    public Tensor forward(ModuleInputs in) {
        ensureOpen();
        Variant v = variantFor(in);
        Runs r = new Runs(workspace.session(), "forward of module " + name);
        feedInputs(r, v, in);
        r.fetch(v.output);
        try (Result res = r.run()) {
            return shapeOutput(TfTensors.toTensor(res.get(0)), in);
        }
    }

    /**
     * Every output of {@link #outputNames()} in one run (a text encoder's hidden states and pooled vector, for
     * instance); the primary output is shaped as {@link #forward} shapes it, the others as the graph computes them,
     * in float32.
     *
     * @param in the inputs
     * @return output name to value, in {@link #outputNames()} order
     */
    public Map<String, Tensor> forwardAll(ModuleInputs in) {
        ensureOpen();
        Variant v = variantFor(in);
        Runs r = new Runs(workspace.session(), "forward of module " + name);
        feedInputs(r, v, in);
        for (Output<?> o : v.outputs.values()) {
            r.fetch(o);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Result res = r.run()) {
            int i = 0;
            for (String n : v.outputs.keySet()) {
                Tensor t = TfTensors.toTensor(res.get(i++));
                out.put(n, n.equals(outputName) ? shapeOutput(t, in) : t);
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ backward

    private BackwardGraph backwardGraph(Variant v, BackwardGraph.Form form) {
        return v.backward.computeIfAbsent(form, f -> {
            Map<String, Output<?>> params = new LinkedHashMap<>();
            if (optimizer != null) {
                for (io.senseflow.train.ParameterSpec p : parameters.specs()) {
                    Output<?> read = v.graph.variableReads().get(p.name());
                    if (read != null) {
                        params.put(p.name(), read);
                    }
                }
            }
            Map<String, Output<?>> ins = new LinkedHashMap<>();
            for (Bound b : v.inputs) {
                if (b.binding().differentiable() && !b.integer()) { // ids, masks cast to integers: no gradient
                    ins.put(b.binding().moduleInput(), b.placeholder());
                }
            }
            GraphOps where = ops.scoped("backward_" + f.name().toLowerCase(java.util.Locale.ROOT));
            try {
                return BackwardGraph.build(where, v.output, f, params, ins, optimizer);
            } catch (org.tensorflow.exceptions.TensorFlowException | IllegalStateException e) {
                throw new io.senseflow.BackendException("module " + name + ": TensorFlow could not build the backward"
                        + " pass for the " + f.name().toLowerCase(java.util.Locale.ROOT) + " upstream form: "
                        + Runs.firstLine(e.getMessage()), e);
            }
        });
    }

    private int batchOf(Variant v, ModuleInputs in) {
        if (in.getOrNull(ModuleInputs.X) != null) {
            return in.batch();
        }
        return in.get(v.inputs.get(0).binding().moduleInput()).batch();
    }

    private static Tensor feedLike(Tensor t, Output<?> placeholder, String what) {
        Shape s = placeholder.shape();
        int[] target = fit(t, s.isUnknown() ? null : s.asArray());
        if (target == null) {
            throw InvalidRequestException.of(what, "a tensor of shape " + s, Arrays.toString(t.shape()));
        }
        return t.reshape(target);
    }

    @Override
    public BackwardResult backward(ModuleInputs in, Upstream upstream, GradientMode mode) {
        ensureOpen();
        if (mode.parameters() && optimizer == null) {
            throw new InvalidRequestException("backward of module " + name + ": the module is frozen (no optimizer); use"
                    + " GradientMode.INPUTS");
        }
        Variant v = variantFor(in);
        if (mode.inputs()) {
            for (Bound b : v.inputs) {
                Tensor t = in.get(b.binding().moduleInput());
                if (b.scalar() && b.binding().differentiable() && !b.integer() && t.size() > 1) {
                    throw new InvalidRequestException("backward of module " + name + ": input " + b.binding()
                            .moduleInput() + " feeds the rank-0 graph input '" + b.binding().graphInput() + "', one"
                            + " value for the whole batch, so it has no per-sample gradient; bind it with"
                            + " withGradient(false) or call with batch size 1");
                }
            }
        }
        BackwardGraph.Form form = BackwardGraph.Form.of(upstream);
        BackwardGraph bg = backwardGraph(v, form);
        Runs r = new Runs(workspace.session(), "backward of module " + name);
        feedInputs(r, v, in);
        if (form == BackwardGraph.Form.EXPLICIT) {
            r.feed(bg.upstream, feedLike(((Upstream.Explicit) upstream).gradient(), bg.upstream, "module " + name
                    + " upstream gradient"));
        } else {
            int batch = batchOf(v, in);
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
                r.feed(bg.target, feedLike(m.target(), bg.target, "module " + name + " mse target"));
            } else if (upstream instanceof Upstream.Hinge h) {
                r.feed(bg.sign, (float) h.sign());
                r.feed(bg.negSign, (float) -h.sign());
            }
        }
        int outIndex = r.fetch(v.output);
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
                for (Bound b : v.inputs) {
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
        private boolean specialise;
        private boolean trainBuffers;
        private final List<String> moreOutputs = new ArrayList<>();

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

        /**
         * @param graphOutputs further outputs {@link TfModule#forwardAll} computes with the primary one (backward and
         *     {@link TfModule#forward} use the primary output only)
         * @return this
         */
        public Builder outputs(String... graphOutputs) {
            moreOutputs.clear();
            moreOutputs.addAll(List.of(graphOutputs));
            return this;
        }

        /**
         * @param on train the initializers that were buffers in the source model ({@link ModelBuffers}: fixed
         *     sin-cos position tables and the like) like parameters; default false: they stay frozen constants
         * @return this
         */
        public Builder trainBuffers(boolean on) {
            this.trainBuffers = on;
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

        /**
         * @param on import another copy of the graph (over the same variables) for each new combination of input
         *     shapes a call brings, instead of refusing shapes the first import does not accept
         * @return this
         */
        public Builder specialisePerShape(boolean on) {
            this.specialise = on;
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
