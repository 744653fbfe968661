package io.senseflow.onnx.arch;

import static io.senseflow.onnx.arch.RefOps.add;
import static io.senseflow.onnx.arch.RefOps.layerNorm;
import static io.senseflow.onnx.arch.RefOps.linear;
import static io.senseflow.onnx.arch.RefOps.silu;

/**
 * The flow transformer's forward pass in plain Java (double precision), one sample at a time, reading the
 * parameters by name: the oracle for the ONNX graph.
 */
final class FlowTransformerReference {
    private static final double EPS = 1e-6;
    private final FlowTransformer.Config c;
    private final Weights w;
    private final int d;

    FlowTransformerReference(FlowTransformer.Config config, Weights weights) {
        this.c = config;
        this.w = weights;
        this.d = config.width();
    }

    /**
     * @param x latents [batch, C, H, W]
     * @param text text tokens [batch, L, textWidth]
     * @param pooled [batch, pooledWidth]
     * @param s noise levels [batch]
     * @return the velocity [batch, C, H, W]
     */
    float[] forward(float[] x, float[] text, float[] pooled, float[] s) {
        int batch = s.length;
        int per = c.latentChannels() * c.latentHeight() * c.latentWidth();
        float[] out = new float[batch * per];
        for (int b = 0; b < batch; b++) {
            double[] y = sample(RefOps.toDouble(x, b * per, per),
                    RefOps.toDouble(text, b * c.textLength() * c.textWidth(), c.textLength() * c.textWidth()),
                    RefOps.toDouble(pooled, b * c.pooledWidth(), c.pooledWidth()), s[b]);
            for (int i = 0; i < per; i++) {
                out[b * per + i] = (float) y[i];
            }
        }
        return out;
    }

    private double[] sample(double[] x, double[] text, double[] pooled, float s) {
        int p = c.patchSize();
        int gh = c.gridHeight();
        int gw = c.gridWidth();
        int n = c.imageTokens();
        int l = c.textLength();

        double[] conv = RefOps.conv2d(x, c.latentChannels(), c.latentHeight(), c.latentWidth(),
                w.get("pos_embed.proj.weight"), w.get("pos_embed.proj.bias"), d, p, p, 0);
        float[] pos = w.get("pos_embed.pos_embed");
        double[] image = new double[n * d];
        for (int t = 0; t < n; t++) {
            for (int k = 0; k < d; k++) {
                image[t * d + k] = conv[k * n + t] + pos[t * d + k];
            }
        }

        double[] cond = add(mlp2("time_text_embed.timestep_embedder", timestepFeatures(s), 1,
                        FlowTransformer.TIMESTEP_FEATURES, d, false),
                mlp2("time_text_embed.text_embedder", pooled, 1, c.pooledWidth(), d, false));
        double[] sc = silu(cond);
        double[] context = lin("context_embedder", text, l, c.textWidth(), d);

        for (int i = 0; i < c.depth(); i++) {
            boolean last = i == c.depth() - 1;
            String pre = "transformer_blocks." + i + ".";
            double[] mi = lin(pre + "norm1.linear", sc, 1, d, 6 * d);
            double[] mc = lin(pre + "norm1_context.linear", sc, 1, d, (last ? 2 : 6) * d);
            double[] ni = modulate(layerNorm(image, n, d, EPS, null, null), n, chunk(mi, 0), chunk(mi, 1));
            double[] nc = last
                    ? modulate(layerNorm(context, l, d, EPS, null, null), l, chunk(mc, 1), chunk(mc, 0))
                    : modulate(layerNorm(context, l, d, EPS, null, null), l, chunk(mc, 0), chunk(mc, 1));
            int tokens = l + n;
            double[] q = concat(lin(pre + "attn.add_q_proj", nc, l, d, d), lin(pre + "attn.to_q", ni, n, d, d));
            double[] k = concat(lin(pre + "attn.add_k_proj", nc, l, d, d), lin(pre + "attn.to_k", ni, n, d, d));
            double[] v = concat(lin(pre + "attn.add_v_proj", nc, l, d, d), lin(pre + "attn.to_v", ni, n, d, d));
            double[] joint = RefOps.attention(q, k, v, tokens, c.heads(), d, null);
            double[] attnImage = lin(pre + "attn.to_out.0", rows(joint, l, n), n, d, d);
            image = gatedAdd(image, n, chunk(mi, 2), attnImage);
            double[] ffImage = modulate(layerNorm(image, n, d, EPS, null, null), n, chunk(mi, 3), chunk(mi, 4));
            image = gatedAdd(image, n, chunk(mi, 5), mlp2(pre + "ff", ffImage, n, d, d, true));
            if (!last) {
                double[] attnText = lin(pre + "attn.to_add_out", rows(joint, 0, l), l, d, d);
                context = gatedAdd(context, l, chunk(mc, 2), attnText);
                double[] ffText = modulate(layerNorm(context, l, d, EPS, null, null), l, chunk(mc, 3), chunk(mc, 4));
                context = gatedAdd(context, l, chunk(mc, 5), mlp2(pre + "ff_context", ffText, l, d, d, true));
            }
        }
        double[] mo = lin("norm_out.linear", sc, 1, d, 2 * d);
        double[] fin = modulate(layerNorm(image, n, d, EPS, null, null), n, chunk(mo, 1), chunk(mo, 0));
        int pc = p * p * c.latentChannels();
        double[] patches = lin("proj_out", fin, n, d, pc);

        int ch = c.latentChannels();
        double[] y = new double[ch * c.latentHeight() * c.latentWidth()];
        for (int r = 0; r < gh; r++) {
            for (int col = 0; col < gw; col++) {
                int t = r * gw + col;
                for (int pr = 0; pr < p; pr++) {
                    for (int pq = 0; pq < p; pq++) {
                        for (int cc = 0; cc < ch; cc++) {
                            int row = r * p + pr;
                            int column = col * p + pq;
                            y[(cc * c.latentHeight() + row) * c.latentWidth() + column] =
                                    patches[t * pc + (pr * p + pq) * ch + cc];
                        }
                    }
                }
            }
        }
        return y;
    }

    /**
     * [cos(a_i), sin(a_i)] with a_i = 1000 s f_i. The products are rounded to float as the graph computes them (at
     * |a| near 1000, float rounding alone moves sin by ~1e-4, far more than the parity tolerance).
     */
    private static double[] timestepFeatures(float s) {
        int half = FlowTransformer.TIMESTEP_FEATURES / 2;
        float scaled = s * 1000f;
        double[] f = new double[2 * half];
        for (int i = 0; i < half; i++) {
            float freq = (float) StrictMath.exp(-StrictMath.log(10000.0) * i / half);
            float arg = scaled * freq;
            f[i] = Math.cos(arg);
            f[half + i] = Math.sin(arg);
        }
        return f;
    }

    private double[] lin(String name, double[] x, int rows, int in, int out) {
        return linear(x, rows, in, w.get(name + ".weight"), w.get(name + ".bias"), out);
    }

    /** Linear-act-Linear with diffusers' names (linear_1/linear_2 with SiLU, net.0.proj/net.2 with GELU). */
    private double[] mlp2(String name, double[] x, int rows, int in, int out, boolean gelu) {
        if (gelu) {
            int hidden = c.mlpHidden();
            double[] h = RefOps.gelu(lin(name + ".net.0.proj", x, rows, in, hidden));
            return lin(name + ".net.2", h, rows, hidden, out);
        }
        double[] h = silu(lin(name + ".linear_1", x, rows, in, out));
        return lin(name + ".linear_2", h, rows, out, out);
    }

    private double[] chunk(double[] m, int i) {
        double[] y = new double[d];
        System.arraycopy(m, i * d, y, 0, d);
        return y;
    }

    private double[] modulate(double[] x, int rows, double[] shift, double[] scale) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < d; k++) {
                y[r * d + k] = x[r * d + k] * (1 + scale[k]) + shift[k];
            }
        }
        return y;
    }

    private double[] gatedAdd(double[] x, int rows, double[] gate, double[] h) {
        double[] y = new double[x.length];
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < d; k++) {
                y[r * d + k] = x[r * d + k] + gate[k] * h[r * d + k];
            }
        }
        return y;
    }

    private double[] concat(double[] a, double[] b) {
        double[] y = new double[a.length + b.length];
        System.arraycopy(a, 0, y, 0, a.length);
        System.arraycopy(b, 0, y, a.length, b.length);
        return y;
    }

    private double[] rows(double[] x, int from, int count) {
        double[] y = new double[count * d];
        System.arraycopy(x, from * d, y, 0, count * d);
        return y;
    }
}
