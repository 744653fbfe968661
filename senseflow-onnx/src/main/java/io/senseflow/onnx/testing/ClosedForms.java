package io.senseflow.onnx.testing;

import io.senseflow.onnx.ir.ConvOptions;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tensor.Tensor;

/**
 * The closed-form stand-ins of the fixture folders, each as an ONNX graph with the real export's input and output
 * names, ranks and dtypes, and as the same formula in Java (double precision). Every output depends on every input
 * in a known way, so a pipeline that feeds the wrong hidden state, scale, order or layout gets different numbers.
 *
 * <p>Text encoders, with {@code E[v, d] = 0.5 sin(0.7 v + 1.3 d + salt)} and {@code base = E[ids]}:
 * {@code hidden_states.k = (1 + 0.25 k) base + 0.1 k} for {@code k = 0..layers},
 * {@code last_hidden_state = 0.5 base - 0.2} (CLIP-like) or {@code 0.8 base + 0.05} (T5-like), and the pooled output
 * {@code mean_l(base) W} with {@code W[d, p] = cos(0.9 d + 0.4 p + salt) / width}.
 *
 * <p>Denoisers, with the raw timestep input {@code tau}, per-sample scalar
 * {@code z = alpha tau + sum_{l,d} T[l, d] a_d / (1 + l) + sum_p P[p] q_p [+ 0.1 guidance] [+ sum_j 0.003 (j + 1)^2 time_ids[j]] + sum(txt_ids)},
 * {@code a_d = 3 (0.5 + 0.1 d) / tokenWidth}, {@code q_p = (0.5 + 0.5 p) / pooledWidth}: the output is
 * {@code 0.5 x + 0.1 (1 + 0.25 c) z} on {@code [B, C, H, W]} states (SD3, SDXL), and
 * {@code 0.5 x + 0.1 (1 + 0.05 f) z + 0.02 img_ids[n, 1] + 0.03 img_ids[n, 2]} on FLUX's packed {@code [B, N, F]}.
 *
 * <p>VAE: the decoder is a 1x1 convolution {@code M[o, c] = 0.3 cos(1.1 o + 0.7 c)}, bias {@code 0.05 (o - 1)}, then
 * nearest upsampling by 8; the encoder averages 8 x 8 blocks and applies {@code N[k, o] = 0.2 sin(0.5 k + 1.7 o)},
 * bias {@code 0.01 k}, giving {@code 2 C} channels (mean, then a stand-in log-variance).
 */
final class ClosedForms {
    static final int VAE_FACTOR = 8;
    static final double RHO = 0.5;
    static final double GUIDANCE_WEIGHT = 0.1;

    private ClosedForms() {
    }

    // ------------------------------------------------------------------ text encoders

    /**
     * @param name component folder, for the graph name
     * @param vocab vocabulary size
     * @param width feature width
     * @param layers hidden states {@code hidden_states.0..layers} are exposed (0: none, T5-like)
     * @param pooledWidth pooled width (0: no pooled output)
     * @param pooledName {@code text_embeds} or {@code pooler_output}
     * @param salt makes the encoders of one folder differ
     * @param idsType INT64 or INT32
     * @param t5 whether {@code last_hidden_state} uses the T5-like form
     */
    record TextSpec(String name, int vocab, int width, int layers, int pooledWidth, String pooledName, float salt,
                    DataType idsType, boolean t5) {
        float[] embedding() {
            float[] e = new float[vocab * width];
            for (int v = 0; v < vocab; v++) {
                for (int d = 0; d < width; d++) {
                    e[v * width + d] = (float) (0.5 * Math.sin(0.7 * v + 1.3 * d + salt));
                }
            }
            return e;
        }

        float[] projection() {
            float[] w = new float[width * pooledWidth];
            for (int d = 0; d < width; d++) {
                for (int p = 0; p < pooledWidth; p++) {
                    w[d * pooledWidth + p] = (float) (Math.cos(0.9 * d + 0.4 * p + salt) / width);
                }
            }
            return w;
        }

        double lastScale() {
            return t5 ? 0.8 : 0.5;
        }

        double lastShift() {
            return t5 ? 0.05 : -0.2;
        }
    }

    static OnnxModel textEncoder(TextSpec s, DataType floatType) {
        GraphBuilder g = GraphBuilder.create(s.name());
        Dim b = Dim.symbolic("batch");
        Dim l = Dim.symbolic("sequence_length");
        String ids = g.input("input_ids", s.idsType(), b, l);
        String e = param(g, "embeddings.token_embedding.weight", s.embedding(), floatType, s.vocab(), s.width());
        String base = g.gather(e, ids, 0);
        String last = g.add(g.mul(base, g.floatScalar((float) s.lastScale())), g.floatScalar((float) s.lastShift()));
        output(g, last, "last_hidden_state", floatType, b, l, Dim.of(s.width()));
        if (s.pooledWidth() > 0) {
            String w = param(g, "projection.weight", s.projection(), floatType, s.width(), s.pooledWidth());
            output(g, g.matMul(g.reduceMean(base, false, 1), w), s.pooledName(), floatType, b, Dim.of(s.pooledWidth()));
        }
        for (int k = 0; k <= s.layers() && s.layers() > 0; k++) {
            String h = g.add(g.mul(base, g.floatScalar(1 + 0.25f * k)), g.floatScalar(0.1f * k));
            output(g, h, "hidden_states." + k, floatType, b, l, Dim.of(s.width()));
        }
        return g.build();
    }

    /** @return {@code [B, L, width]}: hidden state {@code k} ({@code k = -1} means {@code last_hidden_state}) */
    static Tensor textTokens(TextSpec s, long[][] ids, int k) {
        float[] e = s.embedding();
        int n = ids.length;
        int len = ids[0].length;
        int w = s.width();
        float[] out = new float[n * len * w];
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < len; i++) {
                for (int d = 0; d < w; d++) {
                    double base = e[(int) ids[b][i] * w + d];
                    double v = k < 0 ? s.lastScale() * base + s.lastShift() : (1 + 0.25 * k) * base + 0.1 * k;
                    out[(b * len + i) * w + d] = (float) v;
                }
            }
        }
        return Tensor.wrap(out, n, len, w);
    }

    /** @return {@code [B, pooledWidth]} */
    static Tensor textPooled(TextSpec s, long[][] ids) {
        float[] e = s.embedding();
        float[] proj = s.projection();
        int n = ids.length;
        int len = ids[0].length;
        int w = s.width();
        int p = s.pooledWidth();
        float[] out = new float[n * p];
        for (int b = 0; b < n; b++) {
            double[] mean = new double[w];
            for (int i = 0; i < len; i++) {
                for (int d = 0; d < w; d++) {
                    mean[d] += e[(int) ids[b][i] * w + d] / (double) len;
                }
            }
            for (int q = 0; q < p; q++) {
                double acc = 0;
                for (int d = 0; d < w; d++) {
                    acc += mean[d] * proj[d * p + q];
                }
                out[b * p + q] = (float) acc;
            }
        }
        return Tensor.wrap(out, n, p);
    }

    // ------------------------------------------------------------------ denoisers

    /** Which state layout and extra inputs a denoiser has. */
    enum Kind {
        /** SD3 transformer: {@code hidden_states [B, C, H, W]}. */
        SD3,
        /** FLUX transformer: packed {@code hidden_states [B, N, 4C]}, {@code img_ids}, {@code txt_ids}. */
        FLUX,
        /** SDXL UNet: {@code sample [B, C, H, W]}, {@code text_embeds}, {@code time_ids}. */
        SDXL
    }

    /**
     * @param kind the layout
     * @param channels latent channels C
     * @param tokenWidth text token width
     * @param pooledWidth pooled width
     * @param alpha weight of the raw timestep input
     * @param timestepType FLOAT, FLOAT16 or INT64
     * @param scalarTimestep whether the timestep is rank 0
     * @param guidance whether there is a {@code guidance [B]} input (FLUX.1-dev)
     */
    record DenoiserSpec(Kind kind, int channels, int tokenWidth, int pooledWidth, double alpha, DataType timestepType,
                        boolean scalarTimestep, boolean guidance) {
        int features() {
            return kind == Kind.FLUX ? 4 * channels : channels;
        }

        double tokenWeight(int d) {
            return 3 * (0.5 + 0.1 * d) / tokenWidth;
        }

        double pooledWeight(int p) {
            return (0.5 + 0.5 * p) / pooledWidth;
        }

        double channelGain(int c) {
            return kind == Kind.FLUX ? 0.1 * (1 + 0.05 * c) : 0.1 * (1 + 0.25 * c);
        }
    }

    static OnnxModel denoiser(DenoiserSpec s, DataType floatType) {
        GraphBuilder g = GraphBuilder.create(s.kind() == Kind.SDXL ? "unet" : "transformer");
        Dim b = Dim.symbolic("batch");
        String state = s.kind() == Kind.SDXL ? "sample" : "hidden_states";
        Dim[] stateDims = s.kind() == Kind.FLUX
                ? new Dim[] {b, Dim.symbolic("packed_height_width"), Dim.of(s.features())}
                : new Dim[] {b, Dim.of(s.channels()), Dim.symbolic("height"), Dim.symbolic("width")};
        String x = input(g, state, floatType, stateDims);
        String tau = s.scalarTimestep() ? g.input("timestep", s.timestepType()) : g.input("timestep", s.timestepType(), b);
        tau = s.timestepType() == DataType.FLOAT ? tau : g.cast(tau, DataType.FLOAT);
        Dim seq = Dim.symbolic("sequence_length");
        String tokens = input(g, "encoder_hidden_states", floatType, b, seq, Dim.of(s.tokenWidth()));
        String pooled = input(g, s.kind() == Kind.SDXL ? "text_embeds" : "pooled_projections", floatType, b, Dim.of(s.pooledWidth()));

        // z = alpha tau + sum_{l,d} T a_d / (1 + l) + sum_p P q_p ...
        float[] a = new float[s.tokenWidth()];
        for (int d = 0; d < a.length; d++) {
            a[d] = (float) s.tokenWeight(d);
        }
        float[] q = new float[s.pooledWidth()];
        for (int p = 0; p < q.length; p++) {
            q[p] = (float) s.pooledWeight(p);
        }
        String ones = g.add(g.reduceSum(g.mul(tokens, g.floatScalar(0f)), true, 2), g.floatScalar(1f)); // [B, L, 1]
        String position = g.op("CumSum").input(ones, g.longScalar(1)).output(); // 1 + l
        String weighted = g.mul(g.mul(tokens, g.floatVector(a)), g.reciprocal(position));
        String z = g.add(g.reduceSum(weighted, false, 1, 2), g.reduceSum(g.mul(pooled, g.floatVector(q)), false, 1));
        z = g.add(z, g.mul(tau, g.floatScalar((float) s.alpha())));
        if (s.guidance()) {
            String guidance = input(g, "guidance", floatType, b);
            z = g.add(z, g.mul(guidance, g.floatScalar((float) GUIDANCE_WEIGHT)));
        }
        if (s.kind() == Kind.SDXL) {
            String timeIds = input(g, "time_ids", floatType, b, Dim.of(6));
            z = g.add(z, g.reduceSum(g.mul(timeIds, g.floatVector(timeIdWeights())), false, 1));
        }
        float[] gain = new float[s.features()];
        for (int c = 0; c < gain.length; c++) {
            gain[c] = (float) s.channelGain(c);
        }
        String out;
        if (s.kind() == Kind.FLUX) {
            String img = input(g, "img_ids", floatType, Dim.symbolic("packed_height_width"), Dim.of(3));
            String txt = input(g, "txt_ids", floatType, seq, Dim.of(3));
            z = g.add(z, g.reduceSum(txt, false));
            String pos = g.reduceSum(g.mul(img, g.floatVector(0f, 0.02f, 0.03f)), true, 1); // [N, 1]
            out = g.add(g.mul(x, g.floatScalar((float) RHO)), g.mul(g.unsqueeze(z, 1, 2), g.floatVector(gain)));
            out = g.add(out, pos);
        } else {
            String k = g.constant(TensorValue.ofFloats("", gain, 1, gain.length, 1, 1));
            out = g.add(g.mul(x, g.floatScalar((float) RHO)), g.mul(g.unsqueeze(z, 1, 2, 3), k));
        }
        output(g, out, s.kind() == Kind.SDXL ? "out_sample" : "out_hidden_states", floatType, stateDims);
        return g.build();
    }

    /** Weights of SDXL's six size values, distinct so that a swapped height and width shows. */
    static float[] timeIdWeights() {
        float[] m = new float[6];
        for (int j = 0; j < 6; j++) {
            m[j] = 0.003f * (j + 1) * (j + 1);
        }
        return m;
    }

    /** The per-sample scalar z of sample {@code b}. */
    static double z(DenoiserSpec s, double tau, Tensor tokens, Tensor pooled, int b, Double guidance, float[] timeIds,
                    double txtIdSum) {
        int len = tokens.dim(1);
        int w = tokens.dim(2);
        double acc = s.alpha() * tau;
        for (int l = 0; l < len; l++) {
            for (int d = 0; d < w; d++) {
                acc += tokens.get((b * len + l) * w + d) * s.tokenWeight(d) / (1 + l);
            }
        }
        int p = pooled.dim(1);
        for (int j = 0; j < p; j++) {
            acc += pooled.get(b * p + j) * s.pooledWeight(j);
        }
        if (guidance != null) {
            acc += GUIDANCE_WEIGHT * guidance;
        }
        if (timeIds != null) {
            for (int j = 0; j < 6; j++) {
                acc += timeIdWeights()[j] * timeIds[j];
            }
        }
        return acc + txtIdSum;
    }

    /** SD3/SDXL output on {@code [B, C, H, W]}. */
    static Tensor denoiseNchw(DenoiserSpec s, Tensor x, double[] tau, Tensor tokens, Tensor pooled, double[] guidance,
                              Tensor timeIds) {
        int n = x.dim(0);
        int c = x.dim(1);
        int plane = x.dim(2) * x.dim(3);
        float[] out = new float[x.size()];
        for (int b = 0; b < n; b++) {
            float[] ti = timeIds == null ? null : timeIds.sample(b).toArray();
            double zb = z(s, tau[b], tokens, pooled, b, guidance == null ? null : guidance[b], ti, 0);
            for (int ch = 0; ch < c; ch++) {
                for (int i = 0; i < plane; i++) {
                    int idx = (b * c + ch) * plane + i;
                    out[idx] = (float) (RHO * x.get(idx) + s.channelGain(ch) * zb);
                }
            }
        }
        return Tensor.wrap(out, x.shape());
    }

    /** FLUX output on packed {@code [B, N, F]} with {@code img_ids [N, 3]} and {@code txt_ids [L, 3]}. */
    static Tensor denoisePacked(DenoiserSpec s, Tensor x, double[] tau, Tensor tokens, Tensor pooled, double[] guidance,
                                Tensor imgIds, Tensor txtIds) {
        int n = x.dim(0);
        int tokensN = x.dim(1);
        int f = x.dim(2);
        double txtSum = txtIds.sum();
        float[] out = new float[x.size()];
        for (int b = 0; b < n; b++) {
            double zb = z(s, tau[b], tokens, pooled, b, guidance == null ? null : guidance[b], null, txtSum);
            for (int t = 0; t < tokensN; t++) {
                double pos = 0.02 * imgIds.get(t * 3 + 1) + 0.03 * imgIds.get(t * 3 + 2);
                for (int k = 0; k < f; k++) {
                    int idx = (b * tokensN + t) * f + k;
                    out[idx] = (float) (RHO * x.get(idx) + s.channelGain(k) * zb + pos);
                }
            }
        }
        return Tensor.wrap(out, x.shape());
    }

    // ------------------------------------------------------------------ VAE

    static float[] decoderWeights(int channels) {
        float[] m = new float[3 * channels];
        for (int o = 0; o < 3; o++) {
            for (int c = 0; c < channels; c++) {
                m[o * channels + c] = (float) (0.3 * Math.cos(1.1 * o + 0.7 * c));
            }
        }
        return m;
    }

    static float[] encoderWeights(int channels) {
        float[] m = new float[2 * channels * 3];
        for (int k = 0; k < 2 * channels; k++) {
            for (int o = 0; o < 3; o++) {
                m[k * 3 + o] = (float) (0.2 * Math.sin(0.5 * k + 1.7 * o));
            }
        }
        return m;
    }

    static OnnxModel vaeDecoder(int channels, DataType floatType) {
        GraphBuilder g = GraphBuilder.create("vae_decoder");
        Dim b = Dim.symbolic("batch");
        String z = input(g, "latent_sample", floatType, b, Dim.of(channels), Dim.symbolic("latent_height"),
                Dim.symbolic("latent_width"));
        String w = param(g, "conv.weight", decoderWeights(channels), floatType, 3, channels, 1, 1);
        String bias = param(g, "conv.bias", new float[] {-0.05f, 0f, 0.05f}, floatType, 3);
        String y = g.conv(z, w, bias, ConvOptions.defaults());
        String up = g.op("Resize").input(y, "", g.floatVector(1f, 1f, VAE_FACTOR, VAE_FACTOR)).attr("mode", "nearest")
                .attr("coordinate_transformation_mode", "asymmetric").attr("nearest_mode", "floor").output();
        output(g, up, "sample", floatType, b, Dim.of(3), Dim.symbolic("height"), Dim.symbolic("width"));
        return g.build();
    }

    static OnnxModel vaeEncoder(int channels, DataType floatType) {
        GraphBuilder g = GraphBuilder.create("vae_encoder");
        Dim b = Dim.symbolic("batch");
        String x = input(g, "sample", floatType, b, Dim.of(3), Dim.symbolic("height"), Dim.symbolic("width"));
        String pooled = g.op("AveragePool").input(x).ints("kernel_shape", VAE_FACTOR, VAE_FACTOR)
                .ints("strides", VAE_FACTOR, VAE_FACTOR).output();
        float[] bias = new float[2 * channels];
        for (int k = 0; k < bias.length; k++) {
            bias[k] = 0.01f * k;
        }
        String w = param(g, "conv.weight", encoderWeights(channels), floatType, 2L * channels, 3, 1, 1);
        String y = g.conv(pooled, w, param(g, "conv.bias", bias, floatType, 2L * channels), ConvOptions.defaults());
        output(g, y, "latent_parameters", floatType, b, Dim.of(2L * channels), Dim.symbolic("latent_height"),
                Dim.symbolic("latent_width"));
        return g.build();
    }

    /** @return images {@code [B, 3, 8h, 8w]} from the decoder's input {@code [B, C, h, w]} */
    static Tensor decode(Tensor z) {
        int n = z.dim(0);
        int c = z.dim(1);
        int h = z.dim(2);
        int w = z.dim(3);
        float[] m = decoderWeights(c);
        int bigH = h * VAE_FACTOR;
        int bigW = w * VAE_FACTOR;
        float[] out = new float[n * 3 * bigH * bigW];
        for (int b = 0; b < n; b++) {
            for (int o = 0; o < 3; o++) {
                for (int y = 0; y < bigH; y++) {
                    for (int x = 0; x < bigW; x++) {
                        double acc = 0.05 * (o - 1);
                        for (int ch = 0; ch < c; ch++) {
                            acc += m[o * c + ch] * z.get(((b * c + ch) * h + y / VAE_FACTOR) * w + x / VAE_FACTOR);
                        }
                        out[((b * 3 + o) * bigH + y) * bigW + x] = (float) acc;
                    }
                }
            }
        }
        return Tensor.wrap(out, n, 3, bigH, bigW);
    }

    /** @return the encoder's {@code [B, 2C, H/8, W/8]} output */
    static Tensor encode(Tensor images, int channels) {
        int n = images.dim(0);
        int h = images.dim(2) / VAE_FACTOR;
        int w = images.dim(3) / VAE_FACTOR;
        int bigW = images.dim(3);
        int bigH = images.dim(2);
        float[] m = encoderWeights(channels);
        float[] out = new float[n * 2 * channels * h * w];
        for (int b = 0; b < n; b++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    double[] mean = new double[3];
                    for (int o = 0; o < 3; o++) {
                        for (int dy = 0; dy < VAE_FACTOR; dy++) {
                            for (int dx = 0; dx < VAE_FACTOR; dx++) {
                                mean[o] += images.get(((b * 3 + o) * bigH + y * VAE_FACTOR + dy) * bigW + x * VAE_FACTOR + dx);
                            }
                        }
                        mean[o] /= VAE_FACTOR * VAE_FACTOR;
                    }
                    for (int k = 0; k < 2 * channels; k++) {
                        double acc = 0.01 * k;
                        for (int o = 0; o < 3; o++) {
                            acc += m[k * 3 + o] * mean[o];
                        }
                        out[((b * 2 * channels + k) * h + y) * w + x] = (float) acc;
                    }
                }
            }
        }
        return Tensor.wrap(out, n, 2 * channels, h, w);
    }

    // ------------------------------------------------------------------ fp16 plumbing

    /** A float input of the export's precision, as FLOAT inside the graph. */
    static String input(GraphBuilder g, String name, DataType type, Dim... dims) {
        String in = g.input(name, type, dims);
        return type == DataType.FLOAT ? in : g.cast(in, DataType.FLOAT);
    }

    /** Declares an output in the export's precision. */
    static void output(GraphBuilder g, String value, String name, DataType type, Dim... dims) {
        g.output(type == DataType.FLOAT ? value : g.cast(value, type), name, type, dims);
    }

    /** A weight stored in the export's precision, used as FLOAT. */
    static String param(GraphBuilder g, String name, float[] values, DataType type, long... dims) {
        if (type == DataType.FLOAT) {
            return g.initializer(name, values, dims);
        }
        return g.cast(g.initializer(TensorValue.ofFloat16(name, values, dims)), DataType.FLOAT);
    }
}
