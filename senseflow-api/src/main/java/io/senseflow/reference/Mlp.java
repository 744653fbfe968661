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
        return run(inputs, null).output;
    }

    @Override
    public BackwardResult backward(ModuleInputs inputs, Upstream upstream, GradientMode mode) {
        ensureOpen();
        if (mode.parameters() && optimizer == null) {
            throw new InvalidRequestException("backward: this module is frozen; use GradientMode.INPUTS");
        }
        Pass pass = run(inputs, null);
        UpstreamLoss.Evaluated up = UpstreamLoss.evaluate(upstream, pass.output);
        int batch = pass.batch;
        float[] delta = up.gradient().toArray(); // dL/d(out) as [B, outDim]
        for (int l = layers - 1; l >= 0; l--) {
            int in = widths[l];
            int out = widths[l + 1];
            float[] w = params.array("l" + l + ".weight");
            float[] a = pass.activations[l];
            if (mode.parameters()) {
                float[] gw = optimizer.gradientArray("l" + l + ".weight");
                float[] gb = optimizer.gradientArray("l" + l + ".bias");
                for (int b = 0; b < batch; b++) {
                    for (int o = 0; o < out; o++) {
                        float d = delta[b * out + o];
                        if (d == 0f) {
                            continue;
                        }
                        gb[o] += d;
                        int wRow = o * in;
                        int aRow = b * in;
                        for (int i = 0; i < in; i++) {
                            gw[wRow + i] += d * a[aRow + i];
                        }
                    }
                }
            }
            if (l == 0 && !mode.inputs()) {
                break;
            }
            float[] prev = new float[batch * in];
            for (int b = 0; b < batch; b++) {
                for (int o = 0; o < out; o++) {
                    float d = delta[b * out + o];
                    if (d == 0f) {
                        continue;
                    }
                    int wRow = o * in;
                    int pRow = b * in;
                    for (int i = 0; i < in; i++) {
                        prev[pRow + i] += d * w[wRow + i];
                    }
                }
            }
            if (l > 0) {
                float[] z = pass.preActivations[l - 1];
                for (int i = 0; i < prev.length; i++) {
                    prev[i] *= siluGrad(z[i]);
                }
            }
            delta = prev;
        }
        Map<String, Tensor> inputGrads = new LinkedHashMap<>();
        if (mode.inputs()) {
            int width = widths[0];
            float[] dx = new float[batch * spec.xDim()];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(delta, b * width, dx, b * spec.xDim(), spec.xDim());
            }
            inputGrads.put(ModuleInputs.X, Tensor.wrap(dx, inputs.x().shape()));
            if (spec.condDim() > 0) {
                int offset = width - spec.condDim();
                float[] dc = new float[batch * spec.condDim()];
                for (int b = 0; b < batch; b++) {
                    System.arraycopy(delta, b * width + offset, dc, b * spec.condDim(), spec.condDim());
                }
                inputGrads.put(ModuleInputs.POOLED, Tensor.wrap(dc, batch, spec.condDim()));
            }
        }
        return new BackwardResult(up.loss(), pass.output, inputGrads);
    }

    private static final class Pass {
        int batch;
        float[][] activations;   // input of layer l, [B, widths[l]]
        float[][] preActivations; // pre-SiLU of hidden layer l, [B, widths[l + 1]]
        Tensor output;
    }

    private Pass run(ModuleInputs inputs, Object unused) {
        Tensor x = inputs.x();
        if (x.sampleSize() != spec.xDim()) {
            throw InvalidRequestException.of("mlp input x", spec.xDim() + " values per sample", x.sampleSize());
        }
        int batch = x.batch();
        Pass p = new Pass();
        p.batch = batch;
        p.activations = new float[layers][];
        p.preActivations = new float[layers - 1][];
        float[] in = new float[batch * widths[0]];
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
        int w0 = widths[0];
        for (int b = 0; b < batch; b++) {
            int pos = b * w0;
            System.arraycopy(xs, b * spec.xDim(), in, pos, spec.xDim());
            pos += spec.xDim();
            if (sig != null) {
                float s = sig[b];
                in[pos++] = s;
                for (int k = 0; k < spec.timeFrequencies(); k++) {
                    double a = Math.PI * (1 << k) * s;
                    in[pos++] = (float) StrictMath.sin(a);
                    in[pos++] = (float) StrictMath.cos(a);
                }
            }
            if (cond != null) {
                System.arraycopy(cond, b * spec.condDim(), in, pos, spec.condDim());
            }
        }
        float[] a = in;
        for (int l = 0; l < layers; l++) {
            p.activations[l] = a;
            int nin = widths[l];
            int nout = widths[l + 1];
            float[] w = params.array("l" + l + ".weight");
            float[] bias = params.array("l" + l + ".bias");
            // transpose once so the inner loop is an axpy over outputs (vectorises; a dot product would not)
            float[] wt = new float[nin * nout];
            for (int o = 0; o < nout; o++) {
                for (int i = 0; i < nin; i++) {
                    wt[i * nout + o] = w[o * nin + i];
                }
            }
            float[] z = new float[batch * nout];
            for (int b = 0; b < batch; b++) {
                int aRow = b * nin;
                int zRow = b * nout;
                System.arraycopy(bias, 0, z, zRow, nout);
                for (int i = 0; i < nin; i++) {
                    float ai = a[aRow + i];
                    if (ai == 0f) {
                        continue;
                    }
                    int wtRow = i * nout;
                    for (int o = 0; o < nout; o++) {
                        z[zRow + o] += ai * wt[wtRow + o];
                    }
                }
            }
            if (l < layers - 1) {
                p.preActivations[l] = z;
                float[] h = new float[z.length];
                for (int i = 0; i < z.length; i++) {
                    h[i] = silu(z[i]);
                }
                a = h;
            } else {
                a = z;
            }
        }
        p.output = spec.outputLikeX() ? Tensor.wrap(a, x.shape()) : Tensor.wrap(a, batch, spec.outDim());
        return p;
    }

    private static float silu(float z) {
        return (float) (z / (1 + Math.exp(-z)));
    }

    private static float siluGrad(float z) {
        double s = 1 / (1 + Math.exp(-z));
        return (float) (s * (1 + z * (1 - s)));
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
