package io.senseflow.tf;

import io.senseflow.tf.graph.Runs;
import io.senseflow.CheckpointException;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.graph.TfVariable;
import io.senseflow.tf.graph.VariableInitializer;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.Optimizer;
import io.senseflow.train.OptimizerState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * AdamW built from TensorFlow ops over exactly one module's parameters, with its gradient accumulators as
 * TensorFlow variables. Hyper-parameters that change per step (the learning rate from the
 * {@link io.senseflow.train.LearningRateSchedule}, bias corrections) are computed in Java as {@link
 * io.senseflow.reference.ArrayAdamW} does and fed as scalars, so the update is the reference's operation for
 * operation, in float32:
 * {@code p <- p (1 - lr wd)}, {@code m <- b1 m + (1 - b1) g}, {@code v <- b2 v + ((1 - b2) g) g},
 * {@code p <- p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)}.
 * Global-norm clipping computes the norm in float64 in the graph and scales by
 * {@code maxNorm / (norm + 1e-6)} when it exceeds the bound, as the reference does.
 *
 * <p>TensorFlow Java's own optimizers are not used: {@code Optimizer.minimize()} updates every variable of the
 * graph (other modules included), its Adam rejects {@code /} in variable names and takes a fixed learning rate.
 *
 * <p>Not thread-safe: one training loop uses it, from one thread.
 */
public final class TfAdamW implements Optimizer {
    private final TfWorkspace workspace;
    private final TfParameterStore params;
    private final AdamWConfig config;
    private final GraphOps ops;
    private final Map<String, TfVariable> grads = new LinkedHashMap<>();
    private final Map<String, TfVariable> m = new LinkedHashMap<>();
    private final Map<String, TfVariable> v = new LinkedHashMap<>();
    private final Map<String, Output<?>> gradReads = new LinkedHashMap<>();
    private final Map<String, Output<?>> slotReads = new LinkedHashMap<>();
    private final GraphOperation zero;
    private final Output<?> norm;
    private final Output<?> clipScale;
    private final GraphOperation clip;
    private final Step stepOps;
    private long step;
    private Map<String, Output<?>> replaceFeeds;
    private Map<String, GraphOperation> replaceOps;

    private record Step(Output<?> decay, Output<?> b1, Output<?> oneMinusB1, Output<?> b2, Output<?> oneMinusB2,
                        Output<?> stepSize, Output<?> sqrtBc2, Output<?> eps, GraphOperation op) {
    }

    /**
     * AdamW over a store built outside a {@link TfModule} (e.g. discriminator heads).
     *
     * @param workspace the store's workspace
     * @param ops where to build the slots and update ops
     * @param params the parameters
     * @param config hyper-parameters
     * @return the optimizer
     */
    public static TfAdamW of(TfWorkspace workspace, GraphOps ops, TfParameterStore params, AdamWConfig config) {
        return new TfAdamW(workspace, ops, params, config);
    }

    TfAdamW(TfWorkspace workspace, GraphOps ops, TfParameterStore params, AdamWConfig config) {
        this.workspace = workspace;
        this.params = params;
        this.config = config;
        this.ops = ops;
        List<TfVariable> all = new ArrayList<>();
        for (TfVariable p : params.variables()) {
            String name = p.originalName();
            TfVariable g = TfVariable.create(ops.scoped("grad"), name, "grad/" + name, DataType.DT_FLOAT, p.shape(), false,
                    null);
            TfVariable mm = TfVariable.create(ops.scoped("m"), name, "m/" + name, DataType.DT_FLOAT, p.shape(), false, null);
            TfVariable vv = TfVariable.create(ops.scoped("v"), name, "v/" + name, DataType.DT_FLOAT, p.shape(), false, null);
            grads.put(name, g);
            m.put(name, mm);
            v.put(name, vv);
            all.add(g);
            all.add(mm);
            all.add(vv);
        }
        VariableInitializer.run(workspace.session(), all);
        GraphOps z = ops.scoped("zero");
        List<GraphOperation> zeros = new ArrayList<>();
        grads.values().forEach(g -> zeros.add(g.zeroOp()));
        this.zero = z.group("zero_gradients", zeros);
        // global norm in float64
        GraphOps n = ops.scoped("norm");
        Output<?> sq = null;
        for (Map.Entry<String, TfVariable> e : grads.entrySet()) {
            Output<?> r = e.getValue().read(n);
            gradReads.put(e.getKey(), r);
            Output<?> g64 = n.cast(r, DataType.DT_DOUBLE);
            int[] axes = new int[e.getValue().shape().length];
            for (int i = 0; i < axes.length; i++) {
                axes[i] = i;
            }
            Output<?> s = n.reduce("Sum", n.binary("Mul", g64, g64), false, axes);
            sq = sq == null ? s : n.binary("AddV2", sq, s);
        }
        this.norm = sq == null ? n.scalar(0.0) : n.unary("Sqrt", sq);
        // clip: g <- g * scale
        GraphOps c = ops.scoped("clip");
        this.clipScale = c.placeholder(DataType.DT_FLOAT, Shape.scalar(), "scale");
        List<GraphOperation> scaled = new ArrayList<>();
        for (TfVariable g : grads.values()) {
            scaled.add(c.op("AssignVariableOp").in(g.handle()).in(c.binary("Mul", g.read(c), clipScale))
                    .attr("dtype", DataType.DT_FLOAT).build());
        }
        this.clip = c.group("clip", scaled);
        this.stepOps = buildStep(ops.scoped("step"));
    }

    private Step buildStep(GraphOps s) {
        Output<?> decay = s.placeholder(DataType.DT_FLOAT, Shape.scalar(), "decay");
        Output<?> b1 = s.placeholder(DataType.DT_FLOAT, Shape.scalar(), "beta1");
        Output<?> omb1 = s.placeholder(DataType.DT_FLOAT, Shape.scalar(), "one_minus_beta1");
        Output<?> b2 = s.placeholder(DataType.DT_FLOAT, Shape.scalar(), "beta2");
        Output<?> omb2 = s.placeholder(DataType.DT_FLOAT, Shape.scalar(), "one_minus_beta2");
        Output<?> stepSize = s.placeholder(DataType.DT_FLOAT, Shape.scalar(), "step_size");
        Output<?> sqrtBc2 = s.placeholder(DataType.DT_FLOAT, Shape.scalar(), "sqrt_bias_correction2");
        Output<?> eps = s.placeholder(DataType.DT_FLOAT, Shape.scalar(), "epsilon");
        List<GraphOperation> assigns = new ArrayList<>();
        for (TfVariable p : params.variables()) {
            String name = p.originalName();
            GraphOps o = s.scoped(io.senseflow.tf.graph.TfNames.flat(name));
            Output<?> pv = p.read(o);
            Output<?> g = grads.get(name).read(o);
            Output<?> m0 = m.get(name).read(o);
            Output<?> v0 = v.get(name).read(o);
            Output<?> decayed = o.binary("Mul", pv, decay);
            Output<?> m1 = o.binary("AddV2", o.binary("Mul", b1, m0), o.binary("Mul", omb1, g));
            Output<?> v1 = o.binary("AddV2", o.binary("Mul", b2, v0), o.binary("Mul", o.binary("Mul", omb2, g), g));
            Output<?> denom = o.binary("AddV2", o.binary("RealDiv", o.unary("Sqrt", v1), sqrtBc2), eps);
            Output<?> p1 = o.binary("Sub", decayed, o.binary("RealDiv", o.binary("Mul", stepSize, m1), denom));
            assigns.add(assign(o, m.get(name), m1));
            assigns.add(assign(o, v.get(name), v1));
            assigns.add(assign(o, p, p1));
        }
        return new Step(decay, b1, omb1, b2, omb2, stepSize, sqrtBc2, eps, s.group("apply", assigns));
    }

    private static GraphOperation assign(GraphOps o, TfVariable var, Output<?> value) {
        return o.op("AssignVariableOp").in(var.handle()).in(value).attr("dtype", DataType.DT_FLOAT).build();
    }

    /**
     * Builds the op that adds gradients to the accumulators (used by the module's backward graphs).
     *
     * @param where where to build
     * @param gradients gradient per parameter name (parameters without one are left out)
     * @return the op, or null when there is nothing to accumulate
     */
    public GraphOperation accumulate(GraphOps where, Map<String, Output<?>> gradients) {
        List<GraphOperation> adds = new ArrayList<>();
        gradients.forEach((name, g) -> adds.add(where.op("AssignAddVariableOp").in(grads.get(name).handle())
                .in(where.cast(g, DataType.DT_FLOAT)).attr("dtype", DataType.DT_FLOAT).build()));
        return adds.isEmpty() ? null : where.group("accumulate", adds);
    }

    @Override
    public void zeroGradients() {
        new Runs(workspace.session(), "zeroing gradients").target(zero).runTargets();
    }

    @Override
    public Tensor gradient(String name) {
        params.variable(name);
        Runs r = new Runs(workspace.session(), "reading gradient " + name);
        r.fetch(gradReads.get(name));
        try (Result res = r.run()) {
            return TfTensors.toTensor(res.get(0));
        }
    }

    @Override
    public Map<String, Tensor> gradients(List<String> names) {
        Runs r = new Runs(workspace.session(), "reading gradients");
        for (String name : names) {
            params.variable(name);
            r.fetch(gradReads.get(name));
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (Result res = r.run()) {
            for (int i = 0; i < names.size(); i++) {
                out.put(names.get(i), TfTensors.toTensor(res.get(i)));
            }
        }
        return out;
    }

    /**
     * Overwrites the given accumulators in one session run (the assign ops are built on first use), each with a value
     * of its parameter's shape; the others keep their values.
     */
    @Override
    public void replaceGradients(Map<String, Tensor> values) {
        for (Map.Entry<String, Tensor> e : values.entrySet()) {
            TfVariable g = grads.get(e.getKey());
            if (g == null) {
                throw io.senseflow.InvalidRequestException.of("gradient " + e.getKey(), "a parameter of this optimizer",
                        "no such parameter");
            }
            if (!java.util.Arrays.equals(java.util.Arrays.stream(e.getValue().shape()).asLongStream().toArray(),
                    g.shape())) {
                throw io.senseflow.InvalidRequestException.of("gradient " + e.getKey(), "shape "
                        + java.util.Arrays.toString(g.shape()), java.util.Arrays.toString(e.getValue().shape()));
            }
        }
        if (replaceFeeds == null) {
            GraphOps r = ops.scoped("replace_gradients");
            replaceFeeds = new LinkedHashMap<>();
            replaceOps = new LinkedHashMap<>();
            for (Map.Entry<String, TfVariable> e : grads.entrySet()) {
                Output<?> ph = r.placeholder(DataType.DT_FLOAT, Shape.of(e.getValue().shape()),
                        io.senseflow.tf.graph.TfNames.flat(e.getKey()));
                replaceFeeds.put(e.getKey(), ph);
                replaceOps.put(e.getKey(), assign(r, e.getValue(), ph));
            }
        }
        Runs run = new Runs(workspace.session(), "replacing gradients");
        for (Map.Entry<String, Tensor> e : values.entrySet()) {
            run.feed(replaceFeeds.get(e.getKey()), e.getValue());
            run.target(replaceOps.get(e.getKey()));
        }
        run.runTargets();
    }

    @Override
    public double gradientNorm() {
        Runs r = new Runs(workspace.session(), "gradient norm");
        r.fetch(norm);
        try (Result res = r.run()) {
            return TfTensors.scalarValue(res.get(0));
        }
    }

    @Override
    public double clipGradientNorm(double maxNorm) {
        double n = gradientNorm();
        if (maxNorm > 0 && Double.isFinite(maxNorm) && n > maxNorm) {
            float scale = (float) (maxNorm / (n + 1e-6));
            new Runs(workspace.session(), "clipping gradients").feed(clipScale, scale).target(clip).runTargets();
        }
        return n;
    }

    @Override
    public void step() {
        double lr = learningRate();
        long t = step + 1;
        double bc1 = 1 - Math.pow(config.beta1(), t);
        double bc2 = 1 - Math.pow(config.beta2(), t);
        float b1 = (float) config.beta1();
        float b2 = (float) config.beta2();
        Step s = stepOps;
        new Runs(workspace.session(), "AdamW step " + t).feed(s.decay(), (float) (1 - lr * config.weightDecay()))
                .feed(s.b1(), b1).feed(s.oneMinusB1(), 1 - b1).feed(s.b2(), b2).feed(s.oneMinusB2(), 1 - b2)
                .feed(s.stepSize(), (float) (lr / bc1)).feed(s.sqrtBc2(), (float) Math.sqrt(bc2))
                .feed(s.eps(), (float) config.epsilon()).target(s.op()).runTargets();
        step = t;
    }

    @Override
    public long stepCount() {
        return step;
    }

    @Override
    public double learningRate() {
        return config.learningRate().rate(step);
    }

    /** @return the hyper-parameters */
    public AdamWConfig config() {
        return config;
    }

    @Override
    public OptimizerState state() {
        Runs r = new Runs(workspace.session(), "reading optimizer state");
        List<String> slots = new ArrayList<>();
        for (String name : m.keySet()) {
            for (String slot : new String[] {"m/", "v/"}) {
                TfVariable var = (slot.equals("m/") ? m : v).get(name);
                r.fetch(slotReads.computeIfAbsent(slot + name, k -> var.read(ops.scoped("state"))));
                slots.add(slot + name);
            }
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (!slots.isEmpty()) {
            try (Result res = r.run()) {
                for (int i = 0; i < slots.size(); i++) {
                    out.put(slots.get(i), TfTensors.toTensor(res.get(i)));
                }
            }
        }
        return new OptimizerState(step, out);
    }

    @Override
    public void restore(OptimizerState state) {
        Runs r = new Runs(workspace.session(), "restoring optimizer state");
        for (TfVariable p : params.variables()) {
            for (String slot : new String[] {"m/", "v/"}) {
                Tensor t = state.slots().get(slot + p.originalName());
                if (t == null || t.size() != p.size()) {
                    throw new CheckpointException("optimizer state: slot " + slot + p.originalName() + " expected "
                            + p.size() + " values, found " + (t == null ? "none" : t.size()));
                }
                TfVariable var = (slot.equals("m/") ? m : v).get(p.originalName());
                r.feed(var.feedPlaceholder(), t.reshape(TfParameterStore.intShape(p.shape()))).target(var.assignOp());
            }
        }
        if (!params.variables().isEmpty()) {
            r.runTargets();
        }
        step = state.step();
    }
}
