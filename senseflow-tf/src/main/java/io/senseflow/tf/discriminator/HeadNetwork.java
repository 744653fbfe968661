package io.senseflow.tf.discriminator;

import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;
import org.tensorflow.proto.DataType;

/**
 * The heads' variables and the TensorFlow ops that apply them (see {@link HeadSpec}). Kernels are kept in PyTorch's
 * {@code [out, in, kh, kw]} layout under PyTorch-style names ({@code heads.0.convs.1.weight}); spectral
 * normalisation's power-iteration vectors are non-trainable variables, one per kernel ({@code sn_u/<kernel>}).
 *
 * <p>Spectral normalisation: with the kernel as a matrix {@code W [out, in kh kw]} and the stored vector {@code u},
 * one power-iteration step {@code v = n(W^T u)}, {@code u' = n(W v)} ({@code n} divides by the L2 norm, at least
 * 1e-12) gives {@code sigma = u'^T W v}, and the kernel used is {@code W / sigma}. The step is part of the graph and
 * is differentiated like everything else, so the backward is the exact derivative of what the forward computed (at
 * a converged {@code u} it equals the usual derivative with {@code u, v} held constant). {@code u} itself only
 * changes when {@link #powerIteration} runs: after each optimizer step (and 15 times at creation), so forward and
 * backward are pure functions of the parameters and {@code u}, and {@code u} is saved with the optimizer state.
 */
final class HeadNetwork {
    static final int INITIAL_POWER_ITERATIONS = 15;
    private static final int INIT_STREAM = 0x64697363; // "disc"

    private final HeadSpec spec;
    private final List<Head> heads = new ArrayList<>();
    private final List<TfVariable> trainable = new ArrayList<>();
    private final Map<String, TfVariable> powerVectors = new LinkedHashMap<>();

    /** One convolution: kernel, bias, stride, and its power-iteration vector (null without spectral norm). */
    record Conv(TfVariable weight, TfVariable bias, TfVariable u, int stride) {
    }

    /** One head: hidden convolutions, the 1x1 output convolution, and the text projection (or null). */
    record Head(List<Conv> convs, Conv out, TfVariable textWeight, TfVariable textBias) {
    }

    HeadNetwork(GraphOps ops, HeadSpec spec, List<Long> tapChannels, long seed) {
        this.spec = spec;
        double gain = Math.sqrt(2 / (1 + spec.slope() * spec.slope()));
        for (int i = 0; i < tapChannels.size(); i++) {
            String p = "heads." + i;
            List<Conv> convs = new ArrayList<>();
            long in = tapChannels.get(i);
            for (int j = 0; j < spec.layers(); j++) {
                convs.add(conv(ops, p + ".convs." + j, spec.width(), in, 3, j < spec.downsample() ? 2 : 1, gain, seed));
                in = spec.width();
            }
            int outChannels = spec.conditioned() ? spec.projection() : 1;
            Conv out = conv(ops, p + ".out", outChannels, in, 1, 1, 1, seed);
            TfVariable tw = null;
            TfVariable tb = null;
            if (spec.conditioned()) {
                tw = variable(ops, p + ".text.weight", new long[] {spec.projection(), spec.pooledWidth()},
                        1 / Math.sqrt(spec.pooledWidth()), seed, true);
                tb = variable(ops, p + ".text.bias", new long[] {spec.projection()}, 0, seed, true);
            }
            heads.add(new Head(convs, out, tw, tb));
        }
    }

    private Conv conv(GraphOps ops, String name, long out, long in, int k, int stride, double gain, long seed) {
        TfVariable w = variable(ops, name + ".weight", new long[] {out, in, k, k}, gain / Math.sqrt(in * k * k), seed,
                true);
        TfVariable b = variable(ops, name + ".bias", new long[] {out}, 0, seed, true);
        TfVariable u = null;
        if (spec.spectralNorm()) {
            u = variable(ops, "sn_u/" + name + ".weight", new long[] {out}, 1, seed, false);
            powerVectors.put(w.originalName(), u);
        }
        return new Conv(w, b, u, stride);
    }

    private TfVariable variable(GraphOps ops, String name, long[] shape, double std, long seed, boolean train) {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        float[] values = new float[n];
        if (std > 0) {
            GaussianNoise.fill(seed, fnv1a64(name), INIT_STREAM, values, 0, n);
            double norm = 0;
            for (float v : values) {
                norm += (double) v * v;
            }
            // power-iteration vectors start as unit vectors, weights as N(0, std^2)
            double scale = train ? std : 1 / Math.sqrt(norm);
            for (int i = 0; i < n; i++) {
                values[i] = (float) (values[i] * scale);
            }
        }
        TfVariable v = TfVariable.create(ops, name, name, DataType.DT_FLOAT, shape, train,
                TensorValue.ofFloats(name, values, shape));
        if (train) {
            trainable.add(v);
        }
        return v;
    }

    static long fnv1a64(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }

    /** @return trainable variables in creation order */
    List<TfVariable> trainable() {
        return trainable;
    }

    /** @return power-iteration vectors by the kernel's name */
    Map<String, TfVariable> powerVectors() {
        return powerVectors;
    }

    /** @return all variables (trainable and power vectors) */
    List<TfVariable> all() {
        List<TfVariable> a = new ArrayList<>(trainable);
        a.addAll(powerVectors.values());
        return a;
    }

    int size() {
        return heads.size();
    }

    /**
     * Applies head {@code i}.
     *
     * @param g where to build
     * @param i the head
     * @param x its feature grid {@code [B, h, w, C]}
     * @param pooled the pooled text embedding {@code [B, P]}, or null when unconditioned
     * @param reads receives the parameter reads used (gradients are taken with respect to them)
     * @return the logit grid {@code [B, h', w', 1]}
     */
    Output<?> apply(GraphOps g, int i, Output<?> x, Output<?> pooled, Map<String, Output<?>> reads) {
        Head h = heads.get(i);
        Output<?> y = x;
        for (int j = 0; j < h.convs().size(); j++) {
            y = conv(g.scoped("conv" + j), h.convs().get(j), y, reads);
            y = spec.slope() > 0 ? g.op("LeakyRelu").in(y).attr("alpha", (float) spec.slope()).out() : g.unary("Relu", y);
        }
        y = conv(g.scoped("out"), h.out(), y, reads);
        if (h.textWeight() == null) {
            return y;
        }
        Output<?> tw = read(g, h.textWeight(), reads);
        Output<?> tb = read(g, h.textBias(), reads);
        Output<?> e = g.binary("AddV2", g.op("MatMul").in(pooled).in(tw).attr("transpose_b", true).out(), tb);
        long[] es = FeatureSource.staticShape(e, "text projection");
        Output<?> prod = g.binary("Mul", y, g.reshape(e, es[0], 1, 1, es[1]));
        return g.binary("Mul", g.reduce("Sum", prod, true, 3), g.scalar((float) (1 / Math.sqrt(spec.projection()))));
    }

    private static Output<?> read(GraphOps g, TfVariable v, Map<String, Output<?>> reads) {
        return reads.computeIfAbsent(v.originalName(), k -> v.read(g));
    }

    private Output<?> conv(GraphOps g, Conv c, Output<?> x, Map<String, Output<?>> reads) {
        Output<?> w = read(g, c.weight(), reads);
        long[] ws = c.weight().shape();
        if (c.u() != null) {
            w = g.binary("RealDiv", w, sigma(g, w, c.u().read(g), ws)[0]);
        }
        Output<?> hwio = g.transpose(w, 2, 3, 1, 0);
        int pad = (int) (ws[2] / 2);
        Output<?> in = x;
        if (pad > 0) {
            in = g.op("PadV2").in(x).in(g.reshape(g.indices(0, 0, pad, pad, pad, pad, 0, 0), 4, 2))
                    .in(g.scalar(0f)).out();
        }
        Output<?> y = g.op("Conv2D").in(in).in(hwio).attr("strides", new long[] {1, c.stride(), c.stride(), 1})
                .attr("dilations", new long[] {1, 1, 1, 1}).attr("data_format", "NHWC").attr("padding", "VALID").out();
        return g.binary("AddV2", y, read(g, c.bias(), reads));
    }

    /** @return {@code [sigma, u']} for kernel {@code w} (shape {@code ws}) and stored vector {@code u} */
    private static Output<?>[] sigma(GraphOps g, Output<?> w, Output<?> u, long[] ws) {
        Output<?> m = g.reshape(w, ws[0], -1);
        Output<?> v = normalize(g, g.op("MatMul").in(m).in(g.reshape(u, ws[0], 1)).attr("transpose_a", true).out());
        Output<?> wv = g.op("MatMul").in(m).in(v).out();
        Output<?> un = normalize(g, wv);
        Output<?> s = g.reduce("Sum", g.binary("Mul", un, wv), false, 0, 1);
        return new Output<?>[] {s, un};
    }

    private static Output<?> normalize(GraphOps g, Output<?> a) {
        Output<?> n = g.unary("Sqrt", g.reduce("Sum", g.binary("Mul", a, a), false, 0, 1));
        return g.binary("RealDiv", a, g.binary("Maximum", n, g.scalar(1e-12f)));
    }

    /**
     * @param g where to build
     * @return the op that advances every power-iteration vector by one step from the current kernels, or null
     */
    GraphOperation powerIteration(GraphOps g) {
        List<GraphOperation> assigns = new ArrayList<>();
        for (Head h : heads) {
            List<Conv> all = new ArrayList<>(h.convs());
            all.add(h.out());
            for (Conv c : all) {
                if (c.u() == null) {
                    continue;
                }
                long[] ws = c.weight().shape();
                Output<?> un = sigma(g, c.weight().read(g), c.u().read(g), ws)[1];
                assigns.add(g.op("AssignVariableOp").in(c.u().handle()).in(g.reshape(un, ws[0]))
                        .attr("dtype", DataType.DT_FLOAT).build());
            }
        }
        return assigns.isEmpty() ? null : g.group("power_iteration", assigns);
    }

    /**
     * @param g where to build
     * @return per kernel name, its current {@code sigma} (for inspection and tests)
     */
    Map<String, Output<?>> sigmas(GraphOps g) {
        Map<String, Output<?>> out = new LinkedHashMap<>();
        for (Head h : heads) {
            List<Conv> all = new ArrayList<>(h.convs());
            all.add(h.out());
            for (Conv c : all) {
                if (c.u() != null) {
                    out.put(c.weight().originalName(), sigma(g, c.weight().read(g), c.u().read(g),
                            c.weight().shape())[0]);
                }
            }
        }
        return out;
    }
}
