package io.senseflow.train;

import io.senseflow.model.EpsilonToFlowAdapter;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A trainable DDPM epsilon module (SDXL-type) seen as a velocity module in the flow convention, with the exact
 * backward of the map (docs/algorithm.md §1): the same transformation as {@link EpsilonToFlowAdapter}, for training.
 *
 * <p>Given flow inputs ({@code x = x_s}, {@code sigma = s}), the wrapped module receives {@code x = (a + b) x_s},
 * {@link ModuleInputs#TIMESTEP} = the DDPM timestep {@code t}, and {@code sigma = t / 1000} (for modules that
 * embed a normalised time); its output {@code eps_hat} becomes {@code v = g (eps_hat - x_s)}, {@code g = (a + b) / a}.
 * Backward: the module's upstream is {@code g dL/dv}; the state's gradient is {@code -g dL/dv + (a + b) dL/dx_t}.
 * Upstream loss forms are evaluated on {@code v} in Java ({@link UpstreamLoss}).
 *
 * <p>Not thread-safe (like the module it wraps): use it from the training thread.
 */
public final class EpsilonFlowModule implements DifferentiableModule {
    private final DifferentiableModule epsilon;
    private final DdpmSchedule schedule;

    /**
     * @param epsilon the epsilon-prediction module
     * @param schedule its DDPM table
     */
    public EpsilonFlowModule(DifferentiableModule epsilon, DdpmSchedule schedule) {
        this.epsilon = epsilon;
        this.schedule = schedule;
    }

    private record Mapped(ModuleInputs inner, float[] scale, float[] gain) {
    }

    private Mapped map(ModuleInputs in) {
        float[] s = in.get(ModuleInputs.SIGMA).toArray();
        int n = s.length;
        float[] scale = new float[n];
        float[] gain = new float[n];
        float[] t = new float[n];
        float[] tNorm = new float[n];
        for (int b = 0; b < n; b++) {
            EpsilonToFlowAdapter.Coefficients c = EpsilonToFlowAdapter.coefficients(schedule, s[b]);
            scale[b] = (float) c.inputScale();
            gain[b] = (float) c.velocityGain();
            t[b] = (float) c.timestep();
            tNorm[b] = t[b] / 1000f;
        }
        Map<String, Tensor> m = new LinkedHashMap<>(in.tensors());
        m.put(ModuleInputs.X, in.x().scalePerSample(scale));
        m.put(ModuleInputs.TIMESTEP, Tensor.of(t, n));
        m.put(ModuleInputs.SIGMA, Tensor.of(tNorm, n));
        return new Mapped(new ModuleInputs(m), scale, gain);
    }

    private static Tensor velocity(Tensor eps, Tensor xs, float[] gain) {
        float[] neg = new float[gain.length];
        for (int b = 0; b < gain.length; b++) {
            neg[b] = -gain[b];
        }
        return Tensor.combine(gain, eps, neg, xs);
    }

    @Override
    public Tensor forward(ModuleInputs inputs) {
        Mapped m = map(inputs);
        return velocity(epsilon.forward(m.inner()), inputs.x(), m.gain());
    }

    @Override
    public BackwardResult backward(ModuleInputs inputs, Upstream upstream, GradientMode mode) {
        Mapped m = map(inputs);
        Tensor v = velocity(epsilon.forward(m.inner()), inputs.x(), m.gain());
        UpstreamLoss.Evaluated up = UpstreamLoss.evaluate(upstream, v);
        Tensor toEps = up.gradient().scalePerSample(m.gain());
        BackwardResult inner = epsilon.backward(m.inner(), Upstream.explicit(toEps), mode);
        Map<String, Tensor> grads = new LinkedHashMap<>();
        if (mode.inputs()) {
            float[] neg = new float[m.gain().length];
            for (int b = 0; b < neg.length; b++) {
                neg[b] = -m.gain()[b];
            }
            Tensor dx = Tensor.combine(neg, up.gradient(), m.scale(), inner.inputGradient(ModuleInputs.X));
            grads.put(ModuleInputs.X, dx);
            inner.inputGradients().forEach((k, g) -> {
                if (!k.equals(ModuleInputs.X)) {
                    grads.put(k, g);
                }
            });
        }
        return new BackwardResult(up.loss(), v, grads);
    }

    @Override
    public ParameterStore parameters() {
        return epsilon.parameters();
    }

    @Override
    public Optimizer optimizer() {
        return epsilon.optimizer();
    }

    @Override
    public void close() {
        epsilon.close();
    }
}
