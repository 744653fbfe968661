package io.senseflow.tf.discriminator;

import io.senseflow.tf.graph.Runs;
import io.senseflow.CheckpointException;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfAdamW;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.graph.TfVariable;
import io.senseflow.train.Optimizer;
import io.senseflow.train.OptimizerState;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;
import org.tensorflow.Result;

/**
 * AdamW over the heads, plus spectral normalisation's power iteration: after every step each vector {@code u}
 * advances one step from the updated kernels. The vectors travel with the optimizer state as slots
 * {@code sn_u/<kernel name>}, so a snapshot resumes exactly.
 */
final class DiscriminatorOptimizer implements Optimizer {
    static final String SLOT = "sn_u/";

    private final TfWorkspace workspace;
    private final TfAdamW adam;
    private final GraphOperation power;
    private final Map<String, TfVariable> vectors;
    private final Map<String, Output<?>> reads = new LinkedHashMap<>();

    DiscriminatorOptimizer(TfWorkspace workspace, GraphOps ops, TfAdamW adam, HeadNetwork heads) {
        this.workspace = workspace;
        this.adam = adam;
        this.vectors = heads.powerVectors();
        this.power = heads.powerIteration(ops.scoped("power_iteration"));
        GraphOps r = ops.scoped("sn_read");
        vectors.forEach((k, v) -> reads.put(k, v.read(r)));
    }

    /** Runs {@code n} power-iteration steps (at creation). */
    void powerIterations(int n) {
        for (int i = 0; power != null && i < n; i++) {
            new Runs(workspace.session(), "spectral-norm power iteration").target(power).runTargets();
        }
    }

    TfAdamW adam() {
        return adam;
    }

    @Override
    public void zeroGradients() {
        adam.zeroGradients();
    }

    @Override
    public Tensor gradient(String name) {
        return adam.gradient(name);
    }

    @Override
    public double gradientNorm() {
        return adam.gradientNorm();
    }

    @Override
    public double clipGradientNorm(double maxNorm) {
        return adam.clipGradientNorm(maxNorm);
    }

    @Override
    public void step() {
        adam.step();
        powerIterations(1);
    }

    @Override
    public long stepCount() {
        return adam.stepCount();
    }

    @Override
    public double learningRate() {
        return adam.learningRate();
    }

    /** @return the power-iteration vectors by kernel name */
    Map<String, Tensor> vectors() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        if (vectors.isEmpty()) {
            return out;
        }
        Runs c = new Runs(workspace.session(), "reading spectral-norm vectors");
        List<String> names = new ArrayList<>(reads.keySet());
        names.forEach(n -> c.fetch(reads.get(n)));
        try (Result res = c.run()) {
            for (int i = 0; i < names.size(); i++) {
                out.put(names.get(i), TfTensors.toTensor(res.get(i)));
            }
        }
        return out;
    }

    @Override
    public OptimizerState state() {
        OptimizerState a = adam.state();
        Map<String, Tensor> slots = new LinkedHashMap<>(a.slots());
        vectors().forEach((k, v) -> slots.put(SLOT + k, v));
        return new OptimizerState(a.step(), slots);
    }

    @Override
    public void restore(OptimizerState state) {
        Runs c = new Runs(workspace.session(), "restoring spectral-norm vectors");
        for (Map.Entry<String, TfVariable> e : vectors.entrySet()) {
            Tensor t = state.slots().get(SLOT + e.getKey());
            long size = e.getValue().size();
            if (t == null || t.size() != size) {
                throw new CheckpointException("discriminator optimizer state: slot " + SLOT + e.getKey() + " expected "
                        + size + " values, found " + (t == null ? "none (a checkpoint without spectral norm?)"
                        : t.size()));
            }
            c.feed(e.getValue().feedPlaceholder(), t.reshape((int) size)).target(e.getValue().assignOp());
        }
        adam.restore(state);
        if (!vectors.isEmpty()) {
            c.runTargets();
        }
    }
}
