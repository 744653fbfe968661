package io.senseflow.reference;

import io.senseflow.CheckpointException;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.Optimizer;
import io.senseflow.train.OptimizerState;
import io.senseflow.train.ParameterSpec;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW in plain Java over an {@link ArrayParameterStore}, updating like PyTorch's {@code AdamW}: decoupled decay
 * {@code p <- p (1 - lr wd)}, then {@code m <- b1 m + (1 - b1) g}, {@code v <- b2 v + (1 - b2) g^2},
 * {@code p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)}.
 *
 * <p>Not thread-safe: one training loop uses it, from one thread.
 */
public final class ArrayAdamW implements Optimizer {
    private final ArrayParameterStore params;
    private final AdamWConfig config;
    private final Map<String, float[]> grads = new LinkedHashMap<>();
    private final Map<String, float[]> m = new LinkedHashMap<>();
    private final Map<String, float[]> v = new LinkedHashMap<>();
    private long step;

    /**
     * @param params the parameters to update
     * @param config hyper-parameters
     */
    public ArrayAdamW(ArrayParameterStore params, AdamWConfig config) {
        this.params = params;
        this.config = config;
        for (ParameterSpec p : params.specs()) {
            int n = (int) p.size();
            grads.put(p.name(), new float[n]);
            m.put(p.name(), new float[n]);
            v.put(p.name(), new float[n]);
        }
    }

    /** @param name parameter @return the live gradient buffer (for the owning module's backward) */
    float[] gradientArray(String name) {
        return grads.get(name);
    }

    @Override
    public void zeroGradients() {
        for (float[] g : grads.values()) {
            Arrays.fill(g, 0f);
        }
    }

    @Override
    public Tensor gradient(String name) {
        return Tensor.of(grads.get(name), params.read(name).shape());
    }

    @Override
    public void replaceGradients(Map<String, Tensor> values) {
        for (Map.Entry<String, Tensor> e : values.entrySet()) {
            float[] g = grads.get(e.getKey());
            if (g == null || !Arrays.equals(e.getValue().shape(), params.read(e.getKey()).shape())) {
                throw io.senseflow.InvalidRequestException.of("gradient " + e.getKey(), g == null ? "a parameter of"
                        + " this optimizer" : "shape " + Arrays.toString(params.read(e.getKey()).shape()),
                        g == null ? "no such parameter" : Arrays.toString(e.getValue().shape()));
            }
        }
        for (Map.Entry<String, Tensor> e : values.entrySet()) {
            System.arraycopy(e.getValue().toArray(), 0, grads.get(e.getKey()), 0, grads.get(e.getKey()).length);
        }
    }

    @Override
    public double gradientNorm() {
        double sq = 0;
        for (float[] g : grads.values()) {
            for (float x : g) {
                sq += (double) x * x;
            }
        }
        return Math.sqrt(sq);
    }

    @Override
    public double clipGradientNorm(double maxNorm) {
        double norm = gradientNorm();
        if (maxNorm > 0 && Double.isFinite(maxNorm) && norm > maxNorm) {
            float scale = (float) (maxNorm / (norm + 1e-6));
            for (float[] g : grads.values()) {
                for (int i = 0; i < g.length; i++) {
                    g[i] *= scale;
                }
            }
        }
        return norm;
    }

    @Override
    public void step() {
        double lr = learningRate();
        step++;
        double bc1 = 1 - Math.pow(config.beta1(), step);
        double bc2 = 1 - Math.pow(config.beta2(), step);
        float b1 = (float) config.beta1();
        float b2 = (float) config.beta2();
        float decay = (float) (1 - lr * config.weightDecay());
        float stepSize = (float) (lr / bc1);
        float sqrtBc2 = (float) Math.sqrt(bc2);
        float eps = (float) config.epsilon();
        for (String name : grads.keySet()) {
            float[] p = params.array(name);
            float[] g = grads.get(name);
            float[] mm = m.get(name);
            float[] vv = v.get(name);
            for (int i = 0; i < p.length; i++) {
                if (decay != 1f) {
                    p[i] *= decay;
                }
                mm[i] = b1 * mm[i] + (1 - b1) * g[i];
                vv[i] = b2 * vv[i] + (1 - b2) * g[i] * g[i];
                float denom = (float) Math.sqrt(vv[i]) / sqrtBc2 + eps;
                p[i] -= stepSize * mm[i] / denom;
            }
        }
    }

    @Override
    public long stepCount() {
        return step;
    }

    @Override
    public double learningRate() {
        return config.learningRate().rate(step);
    }

    @Override
    public OptimizerState state() {
        Map<String, Tensor> slots = new LinkedHashMap<>();
        for (ParameterSpec p : params.specs()) {
            slots.put("m/" + p.name(), Tensor.of(m.get(p.name()), p.shape()));
            slots.put("v/" + p.name(), Tensor.of(v.get(p.name()), p.shape()));
        }
        return new OptimizerState(step, slots);
    }

    @Override
    public void restore(OptimizerState state) {
        for (ParameterSpec p : params.specs()) {
            for (String slot : new String[] {"m/", "v/"}) {
                Tensor t = state.slots().get(slot + p.name());
                if (t == null || t.size() != p.size()) {
                    throw new CheckpointException("optimizer state: slot " + slot + p.name() + " expected "
                            + p.size() + " values, found " + (t == null ? "none" : t.size()));
                }
                t.copyTo((slot.equals("m/") ? m : v).get(p.name()), 0);
            }
        }
        step = state.step();
    }
}
