package io.senseflow.reference;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Optimizer;
import io.senseflow.train.ParameterStore;
import io.senseflow.train.Upstream;
import io.senseflow.train.UpstreamLoss;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A multilayer perceptron with hand-written backpropagation: the pure-Java reference implementation of
 * {@link DifferentiableModule}. Small enough to verify against finite differences, fast enough to run whole
 * 2-D distillation experiments in a test. Parameters are {@code l<k>.weight [out, in]} and {@code l<k>.bias [out]}.
 *
 * <p>Deterministic: single-threaded, fixed summation order. Not thread-safe.
 */
public final class Mlp implements DifferentiableModule {
    private final MlpSpec spec;
    private final ArrayParameterStore params;
    private final ArrayAdamW optimizer;
    private final int layers;
    private final int[] widths; // widths[0] = input, widths[layers] = output
    private boolean closed;

    /**
     * @param spec the architecture
     * @param seed initialisation seed (PyTorch-style uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)))
     * @param optimizerConfig optimizer settings, or null for a frozen module
     */
    public Mlp(MlpSpec spec, long seed, AdamWConfig optimizerConfig) {
        this.spec = spec;
        int[] hidden = spec.hidden();
        this.layers = hidden.length + 1;
        this.widths = new int[layers + 1];
        widths[0] = spec.inputWidth();
        System.arraycopy(hidden, 0, widths, 1, hidden.length);
        widths[layers] = spec.outDim();
        this.params = new ArrayParameterStore();
        RandomStream rng = new RandomStream(seed, 0x4d4c50, 0);
        for (int l = 0; l < layers; l++) {
            int in = widths[l];
            int out = widths[l + 1];
            double bound = 1 / Math.sqrt(in);
            float[] w = new float[out * in];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) rng.nextUniform(-bound, bound);
            }
            float[] b = new float[out];
            for (int i = 0; i < out; i++) {
                b[i] = (float) rng.nextUniform(-bound, bound);
            }
            params.add("l" + l + ".weight", w, out, in);
            params.add("l" + l + ".bias", b, out);
        }
        this.optimizer = optimizerConfig == null ? null : new ArrayAdamW(params, optimizerConfig);
    }

    /** @return the architecture */
    public MlpSpec spec() {
        return spec;
    }

    @Override
    public Tensor forward(ModuleInputs inputs) {
        ensureOpen();
        return run(inputs).output;
    }

    @Override
    public BackwardResult backward(ModuleInputs inputs, Upstream upstream, GradientMode mode) {
        ensureOpen();
        if (mode.parameters() && optimizer == null) {
            throw new InvalidRequestException("backward: this module is frozen; use GradientMode.INPUTS");
        }
        Pass pass = run(inputs);
        UpstreamLoss.Evaluated up = UpstreamLoss.evaluate(upstream, pass.output);
        int batch = pass.batch;
        float[][] delta = rows(up.gradient().toArray(), batch, widths[layers]); // dL/d(out)
        for (int l = layers - 1; l >= 0; l--) {
            int in = widths[l];
            int out = widths[l + 1];
            float[][] a = pass.activations[l];
            if (mode.parameters()) {
                float[][] gw = new float[out][in];
                float[] gb = optimizer.gradientArray("l" + l + ".bias");
                for (int b = 0; b < batch; b++) {
                    float[] db = delta[b];
                    float[] ab = a[b];
                    for (int o = 0; o < out; o++) {
                        float d = db[o];
                        if (d != 0f) {
                            gb[o] += d;
                            axpy(d, ab, gw[o]);
                        }
                    }
                }
                float[] flat = optimizer.gradientArray("l" + l + ".weight");
                for (int o = 0; o < out; o++) {
                    float[] row = gw[o];
                    int base = o * in;
                    for (int i = 0; i < in; i++) {
                        flat[base + i] += row[i];
                    }
                }
            }
            if (l == 0 && !mode.inputs()) {
                break;
            }
            float[][] w = rows(params.array("l" + l + ".weight"), out, in);
            float[][] prev = new float[batch][in];
            for (int b = 0; b < batch; b++) {
                float[] db = delta[b];
                float[] pb = prev[b];
                for (int o = 0; o < out; o++) {
                    float d = db[o];
                    if (d != 0f) {
                        axpy(d, w[o], pb);
                    }
                }
                if (l > 0) {
                    float[] sig = pass.sigmoids[l - 1][b];
                    float[] z = pass.preActivations[l - 1][b];
                    for (int i = 0; i < in; i++) {
                        // d silu/dz = sigmoid(z) (1 + z (1 - sigmoid(z)))
                        pb[i] *= sig[i] * (1 + z[i] * (1 - sig[i]));
                    }
                }
            }
            delta = prev;
        }
        Map<String, Tensor> inputGrads = new LinkedHashMap<>();
        if (mode.inputs()) {
            float[] dx = new float[batch * spec.xDim()];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(delta[b], 0, dx, b * spec.xDim(), spec.xDim());
            }
            inputGrads.put(ModuleInputs.X, Tensor.wrap(dx, inputs.x().shape()));
            if (spec.condDim() > 0) {
                int offset = widths[0] - spec.condDim();
                float[] dc = new float[batch * spec.condDim()];
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(delta[b], offset, dc, b * spec.condDim(), spec.condDim());
                }
                inputGrads.put(ModuleInputs.POOLED, Tensor.wrap(dc, batch, spec.condDim()));
            }
        }
        return new BackwardResult(up.loss(), pass.output, inputGrads);
    }

    private static final class Pass {
        int batch;
        float[][][] activations;    // input of layer l: [B][widths[l]]
        float[][][] preActivations; // pre-SiLU of hidden layer l: [B][widths[l + 1]]
        float[][][] sigmoids;       // sigmoid of the pre-activations, kept for the backward
        Tensor output;
    }

    /**
     * The forward pass. Rows are separate arrays so the inner loops are offset-free axpy loops, which the JIT
     * vectorises (with offsets into shared arrays it cannot rule out aliasing and stays scalar, about 4x slower).
     */
    private Pass run(ModuleInputs inputs) {
        Tensor x = inputs.x();
        if (x.sampleSize() != spec.xDim()) {
            throw InvalidRequestException.of("mlp input x", spec.xDim() + " values per sample", x.sampleSize());
        }
        int batch = x.batch();
        Pass p = new Pass();
        p.batch = batch;
        p.activations = new float[layers][][];
        p.preActivations = new float[layers - 1][][];
        p.sigmoids = new float[layers - 1][][];
        float[] xs = x.toArray();
        float[] sig = spec.timeFrequencies() > 0 ? inputs.get(ModuleInputs.SIGMA).toArray() : null;
        float[] cond = null;
        if (spec.condDim() > 0) {
            Tensor c = inputs.get(ModuleInputs.POOLED);
            if (c.sampleSize() != spec.condDim() || c.batch() != batch) {
                throw InvalidRequestException.of("mlp input pooled", "[" + batch + ", " + spec.condDim() + "]",
                        java.util.Arrays.toString(c.shape()));
            }
            cond = c.toArray();
        }
        float[][] in = new float[batch][widths[0]];
        for (int b = 0; b < batch; b++) {
            float[] row = in[b];
            System.arraycopy(xs, b * spec.xDim(), row, 0, spec.xDim());
            int pos = spec.xDim();
            if (sig != null) {
                float s = sig[b];
                row[pos++] = s;
                for (int k = 0; k < spec.timeFrequencies(); k++) {
                    double angle = Math.PI * (1 << k) * s;
                    row[pos++] = (float) StrictMath.sin(angle);
                    row[pos++] = (float) StrictMath.cos(angle);
                }
            }
            if (cond != null) {
                System.arraycopy(cond, b * spec.condDim(), row, pos, spec.condDim());
            }
        }
        float[][] a = in;
        for (int l = 0; l < layers; l++) {
            p.activations[l] = a;
            int nin = widths[l];
            int nout = widths[l + 1];
            float[] w = params.array("l" + l + ".weight");
            float[] bias = params.array("l" + l + ".bias");
            float[][] wt = new float[nin][nout];
            for (int o = 0; o < nout; o++) {
                for (int i = 0; i < nin; i++) {
                    wt[i][o] = w[o * nin + i];
                }
            }
            float[][] z = new float[batch][];
            for (int b = 0; b < batch; b++) {
                float[] zb = bias.clone();
                float[] ab = a[b];
                for (int i = 0; i < nin; i++) {
                    float ai = ab[i];
                    if (ai != 0f) {
                        axpy(ai, wt[i], zb);
                    }
                }
                z[b] = zb;
            }
            if (l < layers - 1) {
                float[][] h = new float[batch][nout];
                float[][] sg = new float[batch][nout];
                for (int b = 0; b < batch; b++) {
                    for (int o = 0; o < nout; o++) {
                        float zz = z[b][o];
                        float sgm = (float) (1 / (1 + Math.exp(-zz)));
                        sg[b][o] = sgm;
                        h[b][o] = zz * sgm;
                    }
                }
                p.preActivations[l] = z;
                p.sigmoids[l] = sg;
                a = h;
            } else {
                a = z;
            }
        }
        int outDim = widths[layers];
        float[] flat = new float[batch * outDim];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(a[b], 0, flat, b * outDim, outDim);
        }
        p.output = spec.outputLikeX() ? Tensor.wrap(flat, x.shape()) : Tensor.wrap(flat, batch, outDim);
        return p;
    }

    /** {@code y += alpha * x} over whole rows (offset-free so it vectorises). */
    private static void axpy(float alpha, float[] x, float[] y) {
        for (int i = 0; i < y.length; i++) {
            y[i] += alpha * x[i];
        }
    }

    private static float[][] rows(float[] flat, int n, int width) {
        float[][] r = new float[n][];
        for (int i = 0; i < n; i++) {
            r[i] = java.util.Arrays.copyOfRange(flat, i * width, (i + 1) * width);
        }
        return r;
    }

    @Override
    public ParameterStore parameters() {
        return params;
    }

    @Override
    public Optimizer optimizer() {
        return optimizer;
    }

    @Override
    public void close() {
        closed = true;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("Mlp is closed");
        }
    }
}
