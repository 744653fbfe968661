package io.senseflow.tf.discriminator;

import io.senseflow.tf.graph.Runs;
import io.senseflow.BackendException;
import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.RandomInputs;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.schedule.Shift;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfAdamW;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfParameterStore;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.graph.VariableInitializer;
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
import java.util.Optional;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * The GAN term's discriminator (ALGORITHM.md §4.4, §4.8, §5) as a {@link DifferentiableModule}: small convolutional
 * heads, the only trainable parameters, on taps of a frozen feature extractor, which is either
 *
 * <ul>
 *   <li>a <b>vision backbone</b> ({@link #vfm(Backbone)}, SenseFlow's): an ONNX vision transformer such as DINOv2,
 *       imported frozen, looking at (decoded) images {@code [B, C, H, W]} in [-1, 1] that the graph resizes and
 *       normalises ({@link Preprocessing}); or</li>
 *   <li>the <b>fake score's own features</b> ({@link #onFakeScore(TfModule, List)}, DMD2's baseline): a view of the
 *       fake score's graph over its variables, looking at generator-space samples noised to a random level per call
 *       ({@link #withRandomInputs}, which the Distiller calls); the fake score's parameters are read, not trained.</li>
 * </ul>
 *
 * <p><b>Output and losses.</b> The primary output is every head's logit grid flattened and concatenated,
 * {@code [B, G_1 + ... + G_H]}. The in-graph upstream forms average each head's loss over its grid and the batch,
 * then over the heads ({@link MultiHeadLoss}); an explicit upstream is the gradient with respect to that output.
 * With {@code Upstream.hinge(+1/-1, omega)} this is §4.8's discriminator loss, with
 * {@code Upstream.linear(-w_gan, omega)} §4.4's generator term.
 *
 * <p><b>Gradients.</b> {@link GradientMode#PARAMETERS} accumulates the heads' gradients (the backbone or fake score
 * is in no gradient list); {@link GradientMode#INPUTS} returns {@code dL/dx} through the frozen extractor and the
 * preprocessing and leaves the accumulated gradients exactly as they were (the accumulate op is not run);
 * {@link GradientMode#BOTH} does both in one run. Only {@code x} is differentiable.
 *
 * <p><b>Shapes.</b> The graph is built at construction for the builder's input shape; calls with other shapes (batch
 * sizes, image sizes) import another copy of the extractor over the same head variables.
 *
 * <p>Spectral normalisation's vectors advance once per optimizer step and are part of the optimizer state (slots
 * {@code sn_u/<kernel>}); everything is seeded, so two discriminators built alike compute the same bits. Not
 * thread-safe.
 */
public final class Discriminator implements DifferentiableModule, RandomInputs {
    /** The module input holding the noise of the fake-score discriminator's noised samples. */
    public static final String NOISE = "noise";

    private final String name;
    private final DiscriminatorKind kind;
    private final TfWorkspace workspace;
    private final boolean ownsWorkspace;
    private final GraphOps ops;
    private final FeatureSource source;
    private final HeadSpec spec;
    private final List<String> used;
    private final HeadNetwork heads;
    private final TfParameterStore parameters;
    private final DiscriminatorOptimizer optimizer;
    private final List<Variant> variants = new ArrayList<>();
    private Map<String, Output<?>> sigmaOps;
    private boolean closed;

    private record Backward(LossGraph loss, Output<?> inputGradient, GraphOperation accumulate) {
    }

    /** The graph for one combination of input shapes. */
    private static final class Variant {
        final Map<String, int[]> shapes;
        final Map<String, Output<?>> placeholders = new LinkedHashMap<>();
        final Map<String, Output<?>> reads = new LinkedHashMap<>();
        final Map<LossGraph.Form, Backward> backward = new EnumMap<>(LossGraph.Form.class);
        final GraphOps scope;
        List<Output<?>> features;
        Output<?> logits;
        int[] headSizes;
        int[][] grids;

        Variant(Map<String, int[]> shapes, GraphOps scope) {
            this.shapes = shapes;
            this.scope = scope;
        }
    }

    private Discriminator(Builder b) {
        this.name = b.name;
        this.kind = b.kind;
        this.spec = b.heads;
        this.ownsWorkspace = b.workspace == null;
        this.workspace = ownsWorkspace ? TfWorkspace.create(b.sessionOptions) : b.workspace;
        try {
            this.ops = workspace.newScope(name);
            this.source = kind == DiscriminatorKind.VFM ? new BackboneFeatures(b.backbone, workspace)
                    : new FakeScoreFeatures(b.fakeScore, b.fakeScoreTaps, b.levels, b.tokenGrid);
            List<String> in = new ArrayList<>(source.inputs());
            if (spec.conditioned() && !in.contains(ModuleInputs.POOLED)) {
                in.add(ModuleInputs.POOLED);
            }
            this.used = List.copyOf(in);
            checkTextWidth(b);
            Variant first = new Variant(firstShapes(b), ops.scoped("v"));
            buildFeatures(first);
            List<Long> channels = new ArrayList<>();
            for (Output<?> f : first.features) {
                channels.add(FeatureSource.staticShape(f, "tap features")[3]);
            }
            this.heads = new HeadNetwork(ops.scoped("heads"), spec, channels, b.seed);
            VariableInitializer.run(workspace.session(), heads.all());
            this.parameters = TfParameterStore.of(workspace, ops.scoped("params"), heads.trainable());
            this.optimizer = b.optimizer == null ? null : new DiscriminatorOptimizer(workspace, ops.scoped("optimizer"),
                    TfAdamW.of(workspace, ops.scoped("adamw"), parameters, b.optimizer), heads);
            GraphOperation power = optimizer != null ? null : heads.powerIteration(ops.scoped("power_iteration"));
            if (optimizer != null) {
                optimizer.powerIterations(HeadNetwork.INITIAL_POWER_ITERATIONS);
            } else if (power != null) {
                for (int i = 0; i < HeadNetwork.INITIAL_POWER_ITERATIONS; i++) {
                    new Runs(workspace.session(), "spectral-norm power iteration").target(power).runTargets();
                }
            }
            buildHeads(first);
            variants.add(first);
        } catch (RuntimeException e) {
            if (ownsWorkspace) {
                workspace.close();
            }
            throw e;
        }
    }

    private void checkTextWidth(Builder b) {
        if (!spec.conditioned()) {
            return;
        }
        List<String> found = new ArrayList<>();
        int[] widths = new int[3];
        int n = 0;
        if (source instanceof FakeScoreFeatures f && f.graphInput(ModuleInputs.POOLED) != null) {
            int w = lastDim(f.graphInput(ModuleInputs.POOLED));
            if (w > 0) {
                found.add("the fake score's input '" + f.graphInput(ModuleInputs.POOLED).name() + "'");
                widths[n++] = w;
            }
        }
        if (b.conditionedLike != null) {
            ValueInfo info = pooledInput(b.conditionedLike);
            if (info == null) {
                throw InvalidRequestException.of("discriminator conditionedLike: module " + b.conditionedLike.name(),
                        "a binding of '" + ModuleInputs.POOLED + "'", "none");
            }
            found.add("module " + b.conditionedLike.name() + "'s input '" + info.name() + "'");
            widths[n++] = lastDim(info);
        }
        if (b.example != null && b.example.getOrNull(ModuleInputs.POOLED) != null) {
            Tensor p = b.example.get(ModuleInputs.POOLED);
            found.add("the example inputs' pooled embedding");
            widths[n++] = p.shape()[p.rank() - 1];
        }
        for (int i = 0; i < n; i++) {
            if (widths[i] > 0 && widths[i] != spec.pooledWidth()) {
                throw InvalidRequestException.of("heads.textConditioning pooled width", widths[i] + ", the width of "
                        + found.get(i), spec.pooledWidth());
            }
        }
    }

    private static ValueInfo pooledInput(TfModule m) {
        for (InputBinding bd : m.bindings()) {
            if (bd.moduleInput().equals(ModuleInputs.POOLED)) {
                for (ValueInfo v : m.model().graph().inputs()) {
                    if (v.name().equals(bd.graphInput())) {
                        return v;
                    }
                }
            }
        }
        return null;
    }

    private static int lastDim(ValueInfo info) {
        if (info.shape() == null || info.shape().isEmpty()) {
            return -1;
        }
        return info.shape().get(info.shape().size() - 1) instanceof Dim.Fixed f ? (int) f.value() : -1;
    }

    private Map<String, int[]> firstShapes(Builder b) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        int[] x = b.example != null ? b.example.x().shape() : b.inputShape;
        if (x == null) {
            throw InvalidRequestException.of("discriminator " + name + " input shape", "inputShape(B, C, H, W) or"
                    + " exampleInputs(...)", "none");
        }
        for (String k : used) {
            int[] s;
            if (k.equals(ModuleInputs.X)) {
                s = x;
            } else if (b.example != null && b.example.getOrNull(k) != null) {
                s = b.example.get(k).shape();
            } else if (k.equals(ModuleInputs.POOLED) && source.shapeFor(k, x) == null) {
                s = new int[] {x[0], spec.pooledWidth()};
            } else {
                s = source.shapeFor(k, x);
            }
            if (s == null) {
                throw InvalidRequestException.of("discriminator " + name + " shape of input '" + k + "'", "known: give"
                        + " exampleInputs(...) with it", "a dynamic dimension in the graph");
            }
            shapes.put(k, s.clone());
        }
        return shapes;
    }

    // ------------------------------------------------------------------ building

    private void buildFeatures(Variant v) {
        GraphOps in = v.scope.scoped("inputs");
        v.shapes.forEach((k, s) -> v.placeholders.put(k, in.placeholder(DataType.DT_FLOAT,
                Shape.of(Arrays.stream(s).asLongStream().toArray()), k)));
        v.features = source.build(v.scope.scoped("features"), v.placeholders);
    }

    private void buildHeads(Variant v) {
        GraphOps g = v.scope.scoped("heads");
        List<Output<?>> flat = new ArrayList<>();
        v.headSizes = new int[heads.size()];
        v.grids = new int[heads.size()][];
        Output<?> pooled = spec.conditioned() ? v.placeholders.get(ModuleInputs.POOLED) : null;
        for (int i = 0; i < heads.size(); i++) {
            Output<?> logit = heads.apply(g.scoped("head" + i), i, v.features.get(i), pooled, v.reads);
            long[] s = FeatureSource.staticShape(logit, "head " + i + " logits");
            v.grids[i] = new int[] {(int) s[1], (int) s[2]};
            v.headSizes[i] = (int) (s[1] * s[2]);
            flat.add(g.reshape(logit, s[0], s[1] * s[2]));
        }
        v.logits = flat.size() == 1 ? flat.get(0) : g.concat(flat, 1);
    }

    private Variant variantFor(ModuleInputs in) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (String k : used) {
            Tensor t = in.getOrNull(k);
            if (t == null) {
                String why = (k.equals(ModuleInputs.SIGMA) || k.equals(NOISE))
                        ? "present: the fake-score discriminator looks at noised samples; call withRandomInputs(inputs,"
                        + " rng) first (the Distiller and AdversarialLoss do)"
                        : k.equals(ModuleInputs.POOLED) ? "present: the heads are text-conditioned (pass a Conditioning"
                        + " with a pooled embedding)" : "present";
                throw InvalidRequestException.of("discriminator " + name + " input '" + k + "'", why, "missing (have "
                        + in.tensors().keySet() + ")");
            }
            shapes.put(k, t.shape());
        }
        int[] pooled = shapes.get(ModuleInputs.POOLED);
        if (spec.conditioned() && pooled[pooled.length - 1] != spec.pooledWidth()) {
            throw InvalidRequestException.of("discriminator " + name + " input 'pooled'", "width " + spec.pooledWidth()
                    + " (heads.textConditioning)", Arrays.toString(pooled));
        }
        for (Variant v : variants) {
            boolean same = true;
            for (String k : used) {
                same &= Arrays.equals(v.shapes.get(k), shapes.get(k));
            }
            if (same) {
                return v;
            }
        }
        Variant v = new Variant(shapes, ops.scoped("v" + variants.size()));
        buildFeatures(v);
        for (int i = 0; i < v.features.size(); i++) {
            long c = FeatureSource.staticShape(v.features.get(i), "tap features")[3];
            long want = FeatureSource.staticShape(variants.get(0).features.get(i), "tap features")[3];
            if (c != want) {
                throw InvalidRequestException.of("discriminator " + name + " tap " + i + " channels", want + "", c);
            }
        }
        buildHeads(v);
        variants.add(v);
        return v;
    }

    private Backward backwardGraph(Variant v, LossGraph.Form form) {
        return v.backward.computeIfAbsent(form, f -> {
            GraphOps g = v.scope.scoped("backward_" + f.name().toLowerCase(java.util.Locale.ROOT));
            try {
                LossGraph loss = LossGraph.build(g, v.logits, MultiHeadLoss.columnWeights(v.headSizes), f);
                List<String> names = new ArrayList<>(v.reads.keySet());
                List<Output<?>> xs = new ArrayList<>();
                names.forEach(n -> xs.add(v.reads.get(n)));
                xs.add(v.placeholders.get(ModuleInputs.X));
                Output<?>[] grads = g.graph().addGradients(g.uniqueName("grad"), new Output<?>[] {v.logits},
                        xs.toArray(new Output<?>[0]), new Output<?>[] {loss.dy});
                Map<String, Output<?>> paramGrads = new LinkedHashMap<>();
                for (int i = 0; i < names.size(); i++) {
                    if (grads[i] != null) {
                        paramGrads.put(names.get(i), grads[i]);
                    }
                }
                GraphOperation acc = optimizer == null ? null
                        : optimizer.adam().accumulate(g.scoped("accumulate"), paramGrads);
                return new Backward(loss, grads[grads.length - 1], acc);
            } catch (org.tensorflow.exceptions.TensorFlowException | IllegalStateException e) {
                throw new BackendException("discriminator " + name + ": TensorFlow could not build the backward pass for"
                        + " the " + f.name().toLowerCase(java.util.Locale.ROOT) + " upstream form: " + e.getMessage(), e);
            }
        });
    }

    // ------------------------------------------------------------------ running

    private Runs feed(Variant v, ModuleInputs in, String what) {
        Runs c = new Runs(workspace.session(), what + " of discriminator " + name);
        for (String k : used) {
            c.feed(v.placeholders.get(k), in.get(k));
        }
        return c;
    }

    @Override
    public Tensor forward(ModuleInputs in) {
        ensureOpen();
        Variant v = variantFor(in);
        Runs c = feed(v, in, "forward");
        c.fetch(v.logits);
        try (Result r = c.run()) {
            return TfTensors.toTensor(r.get(0));
        }
    }

    @Override
    public BackwardResult backward(ModuleInputs in, Upstream upstream, GradientMode mode) {
        ensureOpen();
        if (mode.parameters() && optimizer == null) {
            throw new InvalidRequestException("backward of discriminator " + name + ": the heads are frozen (no"
                    + " optimizer); use GradientMode.INPUTS");
        }
        Variant v = variantFor(in);
        LossGraph.Form form = LossGraph.Form.of(upstream);
        Backward bw = backwardGraph(v, form);
        Runs c = feed(v, in, "backward");
        int batch = in.batch();
        if (upstream instanceof Upstream.Explicit e) {
            int[] want = {batch, Arrays.stream(v.headSizes).sum()};
            if (!Arrays.equals(e.gradient().shape(), want)) {
                throw InvalidRequestException.of("discriminator " + name + " upstream gradient", "shape "
                        + Arrays.toString(want) + " (the concatenated logits)", Arrays.toString(e.gradient().shape()));
            }
            c.feed(bw.loss().upstream, e.gradient());
        } else {
            float[] w = upstream.weights();
            if (w == null) {
                w = new float[batch];
                Arrays.fill(w, 1f);
            } else if (w.length != batch) {
                throw InvalidRequestException.of("upstream weights", batch + " per-sample values", w.length);
            }
            c.feed(bw.loss().weights, Tensor.of(w, batch));
            if (upstream instanceof Upstream.Linear l) {
                c.feed(bw.loss().scale, l.scale());
            } else if (upstream instanceof Upstream.Hinge h) {
                c.feed(bw.loss().sign, (float) h.sign());
                c.feed(bw.loss().scale, (double) -h.sign());
            } else if (upstream instanceof Upstream.Mse m) {
                int[] want = {batch, Arrays.stream(v.headSizes).sum()};
                if (!Arrays.equals(m.target().shape(), want)) {
                    throw InvalidRequestException.of("discriminator " + name + " mse target", "shape "
                            + Arrays.toString(want), Arrays.toString(m.target().shape()));
                }
                c.feed(bw.loss().target, m.target());
            }
        }
        int out = c.fetch(v.logits);
        int loss = bw.loss().loss == null ? -1 : c.fetch(bw.loss().loss);
        int grad = mode.inputs() && bw.inputGradient() != null ? c.fetch(bw.inputGradient()) : -1;
        if (mode.parameters() && bw.accumulate() != null) {
            c.target(bw.accumulate());
        }
        try (Result r = c.run()) {
            Map<String, Tensor> grads = new LinkedHashMap<>();
            if (mode.inputs()) {
                Tensor x = in.x();
                grads.put(ModuleInputs.X, grad < 0 ? Tensor.zeros(x.shape())
                        : TfTensors.toTensor(r.get(grad)).reshape(x.shape()));
            }
            return new BackwardResult(loss < 0 ? Double.NaN : TfTensors.scalarValue(r.get(loss)),
                    TfTensors.toTensor(r.get(out)), grads);
        }
    }

    /**
     * The features the heads see (after preprocessing, tapping and folding into grids); for inspection and tests.
     *
     * @param in the inputs
     * @return each tap's ONNX value name to its grid {@code [B, h, w, C]}
     */
    public Map<String, Tensor> features(ModuleInputs in) {
        ensureOpen();
        Variant v = variantFor(in);
        Runs c = feed(v, in, "features");
        v.features.forEach(c::fetch);
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Result r = c.run()) {
            for (int i = 0; i < v.features.size(); i++) {
                out.put(source.tapValues().get(i), TfTensors.toTensor(r.get(i)));
            }
        }
        return out;
    }

    /**
     * @return each kernel's current spectral-norm estimate {@code sigma} (from the stored vector and one more
     *     step), by kernel name; empty without spectral normalisation
     */
    public Map<String, Double> spectralNorms() {
        ensureOpen();
        if (sigmaOps == null) {
            sigmaOps = heads.sigmas(ops.scoped("sigmas"));
        }
        Map<String, Double> out = new LinkedHashMap<>();
        if (sigmaOps.isEmpty()) {
            return out;
        }
        Runs c = new Runs(workspace.session(), "spectral norms of discriminator " + name);
        List<String> names = new ArrayList<>(sigmaOps.keySet());
        names.forEach(n -> c.fetch(sigmaOps.get(n)));
        try (Result r = c.run()) {
            for (int i = 0; i < names.size(); i++) {
                out.put(names.get(i), TfTensors.scalarValue(r.get(i)));
            }
        }
        return out;
    }

    @Override
    public ModuleInputs withRandomInputs(ModuleInputs inputs, RandomStream rng) {
        return source.randomize(inputs, rng);
    }

    /** @return the resolved ONNX value name of each tap, one head each */
    public List<String> tapValues() {
        return source.tapValues();
    }

    /** @return each head's logit grid {@code [h, w]} for the shapes given at construction */
    public List<int[]> logitGrids() {
        List<int[]> out = new ArrayList<>();
        for (int[] g : variants.get(0).grids) {
            out.add(g.clone());
        }
        return out;
    }

    /** @return which kind of discriminator this is */
    public DiscriminatorKind kind() {
        return kind;
    }

    /** @return the heads' shape */
    public HeadSpec heads() {
        return spec;
    }

    /** @return the module's name (its scope in the workspace) */
    public String name() {
        return name;
    }

    /** @return the workspace */
    public TfWorkspace workspace() {
        return workspace;
    }

    /** @return how many input-shape variants of the graph have been built */
    public int variantCount() {
        return variants.size();
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
            throw new IllegalStateException("Discriminator " + name + " is closed");
        }
        if (workspace.isClosed()) {
            throw new IllegalStateException("the workspace of discriminator " + name + " is closed");
        }
    }

    /** Closes the module; when it created its own workspace, the workspace too. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            if (ownsWorkspace) {
                workspace.close();
            }
        }
    }

    @Override
    public String toString() {
        return "Discriminator[" + name + ", " + kind.id() + ", " + source.describe() + ", " + heads.size() + " heads, "
                + parameters.parameterCount() + " parameters]";
    }

    // ------------------------------------------------------------------ construction

    /**
     * @param backbone the frozen vision backbone and its taps
     * @return a builder of SenseFlow's discriminator
     */
    public static Builder vfm(Backbone backbone) {
        Builder b = new Builder(DiscriminatorKind.VFM);
        b.backbone = Objects.requireNonNull(backbone, "backbone");
        return b;
    }

    /**
     * DMD2's discriminator: heads on the fake score's intermediate features (for the SDK's flow transformer, e.g.
     * {@code Tap.afterBlock(depth / 2)}, its middle block's image tokens). The fake score must live in the workspace
     * given to {@link Builder#workspace}; it must bind {@code x} and {@code sigma}.
     *
     * @param fakeScore the fake score module
     * @param taps where the heads read its graph
     * @return a builder
     */
    public static Builder onFakeScore(TfModule fakeScore, List<Tap> taps) {
        Builder b = new Builder(DiscriminatorKind.FAKE_SCORE_FEATURES);
        b.fakeScore = Objects.requireNonNull(fakeScore, "fakeScore");
        b.fakeScoreTaps = List.copyOf(taps);
        b.workspace = fakeScore.workspace();
        return b;
    }

    /**
     * A builder for the discriminator a config asks for ({@code gan.discriminator}), with the config's discriminator
     * optimizer (its learning rate) and seed; the noise levels of the fake-score kind are the fake score's own
     * training levels ({@code fake_score_timesteps}).
     *
     * @param config the distillation config
     * @param backbone the backbone, needed for {@code vfm}
     * @param fakeScore the fake score, needed for {@code fake-score-features}
     * @param fakeScoreTaps the taps into the fake score, needed for {@code fake-score-features}
     * @return the builder, or empty when the GAN term is off
     */
    public static Optional<Builder> forConfig(DistillationConfig config, Backbone backbone, TfModule fakeScore,
                                              List<Tap> fakeScoreTaps) {
        DistillationConfig.Gan gan = config.gan();
        if (!gan.enabled() || gan.discriminator() == DiscriminatorKind.NONE) {
            return Optional.empty();
        }
        Builder b;
        if (gan.discriminator() == DiscriminatorKind.VFM) {
            if (backbone == null) {
                throw InvalidRequestException.of("backbone", "a Backbone (gan.discriminator is vfm)", "none");
            }
            b = vfm(backbone);
        } else {
            if (fakeScore == null || fakeScoreTaps == null || fakeScoreTaps.isEmpty()) {
                throw InvalidRequestException.of("fakeScore and fakeScoreTaps", "the fake score module and at least one"
                        + " tap (gan.discriminator is fake-score-features)", "none");
            }
            b = onFakeScore(fakeScore, fakeScoreTaps).noiseLevels(config.fakeScoreTimesteps().sampler());
        }
        return Optional.of(b.optimizer(config.discriminatorOptimizer()).seed(config.seed()));
    }

    /** Builder of {@link Discriminator}. */
    public static final class Builder {
        private final DiscriminatorKind kind;
        private Backbone backbone;
        private TfModule fakeScore;
        private List<Tap> fakeScoreTaps;
        private String name = "discriminator";
        private TfWorkspace workspace;
        private TfSessionOptions sessionOptions = TfSessionOptions.defaults();
        private HeadSpec heads = HeadSpec.defaults();
        private AdamWConfig optimizer;
        private long seed;
        private int[] inputShape;
        private ModuleInputs example;
        private TfModule conditionedLike;
        private TimestepSampler levels = TimestepSampler.logitNormal(0, 1, Shift.none());
        private int[] tokenGrid;

        private Builder(DiscriminatorKind kind) {
            this.kind = kind;
        }

        /**
         * @param rows token rows of a fake score that takes packed tokens {@code [B, T, D]} (FLUX: latent height / 2)
         * @param columns token columns (FLUX: latent width / 2)
         * @return this, for the {@code fake-score-features} kind: the taps' image tokens are laid out on this grid
         */
        public Builder tokenGrid(int rows, int columns) {
            if (rows < 1 || columns < 1) {
                throw InvalidRequestException.of("tokenGrid", "positive rows and columns", rows + " x " + columns);
            }
            this.tokenGrid = new int[] {rows, columns};
            return this;
        }

        /** @param n the module's name (scope, messages) @return this */
        public Builder name(String n) {
            this.name = Objects.requireNonNull(n, "name");
            return this;
        }

        /** @param w a shared workspace (the caller closes it) @return this */
        public Builder workspace(TfWorkspace w) {
            this.workspace = w;
            return this;
        }

        /** @param o settings of the module's own workspace @return this */
        public Builder sessionOptions(TfSessionOptions o) {
            this.sessionOptions = Objects.requireNonNull(o, "sessionOptions");
            return this;
        }

        /** @param h the heads' shape @return this */
        public Builder heads(HeadSpec h) {
            this.heads = Objects.requireNonNull(h, "heads");
            return this;
        }

        /** @param c AdamW for the heads; null (the default) for frozen heads @return this */
        public Builder optimizer(AdamWConfig c) {
            this.optimizer = c;
            return this;
        }

        /** @param s seed of the heads' initial weights and power-iteration vectors @return this */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** @param dims the shape of {@code x} the graph is first built for, {@code [B, C, H, W]} @return this */
        public Builder inputShape(int... dims) {
            this.inputShape = dims.clone();
            return this;
        }

        /**
         * @param in example inputs whose shapes the graph is first built for (instead of {@link #inputShape}); their
         *     pooled width is checked against the heads' text conditioning
         * @return this
         */
        public Builder exampleInputs(ModuleInputs in) {
            this.example = in;
            return this;
        }

        /**
         * @param module a module (the generator, say) whose pooled text input the heads' text conditioning must
         *     match; checked at build
         * @return this
         */
        public Builder conditionedLike(TfModule module) {
            this.conditionedLike = module;
            return this;
        }

        /** @param s noise levels of the fake-score kind (default logit-normal(0, 1)) @return this */
        public Builder noiseLevels(TimestepSampler s) {
            this.levels = Objects.requireNonNull(s, "noiseLevels");
            return this;
        }

        /** @return the discriminator */
        public Discriminator build() {
            if (kind == DiscriminatorKind.FAKE_SCORE_FEATURES && workspace != fakeScore.workspace()) {
                throw InvalidRequestException.of("discriminator workspace", "the fake score's workspace (its variables"
                        + " are read in place)", "another workspace");
            }
            return new Discriminator(this);
        }
    }
}
