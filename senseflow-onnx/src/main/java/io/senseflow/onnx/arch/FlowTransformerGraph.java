package io.senseflow.onnx.arch;

import static io.senseflow.onnx.arch.FlowTransformer.NORM_EPS;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.TensorValue;

/** The graph of {@link FlowTransformer}; see its Javadoc for the structure and the parameter names. */
final class FlowTransformerGraph {
    private final Layers nn;
    private final GraphBuilder g;
    private final Params p;
    private final FlowTransformer.Config c;
    private final long d;
    private String one;

    private FlowTransformerGraph(Layers nn, FlowTransformer.Config c) {
        this.nn = nn;
        this.g = nn.graph();
        this.p = nn.params();
        this.c = c;
        this.d = c.width();
    }

    static void define(Layers nn, FlowTransformer.Config c) {
        new FlowTransformerGraph(nn, c).define();
    }

    private void define() {
        Dim batch = Dim.symbolic("batch");
        String x = g.input(FlowTransformer.HIDDEN_STATES, DataType.FLOAT, batch, Dim.of(c.latentChannels()),
                Dim.of(c.latentHeight()), Dim.of(c.latentWidth()));
        String text = g.input(FlowTransformer.ENCODER_HIDDEN_STATES, DataType.FLOAT, batch, Dim.of(c.textLength()),
                Dim.of(c.textWidth()));
        String pooled = g.input(FlowTransformer.POOLED_PROJECTIONS, DataType.FLOAT, batch, Dim.of(c.pooledWidth()));
        String timestep = g.input(FlowTransformer.TIMESTEP, DataType.FLOAT, batch);
        one = g.floatScalar(1f);

        String image = g.inScope("pos_embed", () -> patchEmbed(x));
        String cond = g.inScope("time_text_embed", () -> conditioning(timestep, pooled));
        String siluCond = g.silu(cond);
        String context = nn.linear("context_embedder", text, 3, c.textWidth(), d);
        for (int i = 0; i < c.depth(); i++) {
            boolean last = i == c.depth() - 1;
            String[] streams = jointBlock("transformer_blocks." + i, image, context, siluCond, last);
            image = streams[0];
            context = streams[1];
        }
        String img = image;
        String normed = g.inScope("norm_out", () -> {
            String[] m = modulation("linear", siluCond, 2);
            return modulate(nn.layerNorm(img, d, NORM_EPS), m[1], m[0]); // AdaLayerNormContinuous: scale, shift
        });
        long patch = c.patchSize();
        String out = nn.zeroLinear("proj_out", normed, 3, d, patch * patch * c.latentChannels());
        g.output(unpatchify(out), FlowTransformer.OUT_HIDDEN_STATES, DataType.FLOAT, batch, Dim.of(c.latentChannels()),
                Dim.of(c.latentHeight()), Dim.of(c.latentWidth()));
    }

    /** Conv patchify, flatten to tokens (row-major over the patch grid), add the position table. */
    private String patchEmbed(String x) {
        long patch = c.patchSize();
        long tokens = c.imageTokens();
        String conv = nn.conv("proj", x, c.latentChannels(), d, patch, patch, 0);
        String seq = g.transpose(g.reshape(conv, -1, d, tokens), 0, 2, 1);
        String table = p.table("pos_embed", () -> SinCos.positions2d(c.width(), c.gridHeight(), c.gridWidth()),
                1, tokens, d);
        return g.add(seq, table);
    }

    /** c = timestep_embedder(sinusoid(1000 s)) + text_embedder(pooled). */
    private String conditioning(String timestep, String pooled) {
        int half = FlowTransformer.TIMESTEP_FEATURES / 2;
        String scaled = g.unsqueeze(g.mul(timestep, g.floatScalar(FlowTransformer.TIMESTEP_SCALE)), 1);
        float[] freqs = SinCos.timestepFrequencies(half);
        String args = g.mul(scaled, g.constant(TensorValue.ofFloats("", freqs, 1, half)));
        String features = g.concat(1, g.cos(args), g.sin(args)); // flip_sin_to_cos: cosines first
        String temb = g.inScope("timestep_embedder", () -> nn.mlp(features, 2, FlowTransformer.TIMESTEP_FEATURES, d, d,
                "linear_1", "linear_2", false));
        String pemb = g.inScope("text_embedder", () -> nn.mlp(pooled, 2, c.pooledWidth(), d, d,
                "linear_1", "linear_2", false));
        return g.add(temb, pemb);
    }

    private String[] jointBlock(String name, String image, String context, String siluCond, boolean last) {
        return g.inScope(name, () -> {
            // shift, scale, gate (attention), shift, scale, gate (MLP)
            String[] mi = g.inScope("norm1", () -> modulation("linear", siluCond, 6));
            String[] mc = g.inScope("norm1_context", () -> modulation("linear", siluCond, last ? 2 : 6));
            String ni = modulate(nn.layerNorm(image, d, NORM_EPS), mi[0], mi[1]);
            String nc = last
                    ? modulate(nn.layerNorm(context, d, NORM_EPS), mc[1], mc[0]) // AdaLayerNormContinuous: scale, shift
                    : modulate(nn.layerNorm(context, d, NORM_EPS), mc[0], mc[1]);
            String[] attn = g.inScope("attn", () -> jointAttention(ni, nc, last));
            String img = g.add(image, g.mul(mi[2], attn[0]));
            String ffIn = modulate(nn.layerNorm(img, d, NORM_EPS), mi[3], mi[4]);
            img = g.add(img, g.mul(mi[5], feedForward("ff", ffIn)));
            if (last) {
                return new String[] {img, null};
            }
            String ctx = g.add(context, g.mul(mc[2], attn[1]));
            String ctxIn = modulate(nn.layerNorm(ctx, d, NORM_EPS), mc[3], mc[4]);
            ctx = g.add(ctx, g.mul(mc[5], feedForward("ff_context", ctxIn)));
            return new String[] {img, ctx};
        });
    }

    /** Joint attention over [text; image]; returns the image part and (unless last) the text part, projected. */
    private String[] jointAttention(String image, String context, boolean last) {
        long n = c.imageTokens();
        long l = c.textLength();
        String q = nn.linear("to_q", image, 3, d, d);
        String k = nn.linear("to_k", image, 3, d, d);
        String v = nn.linear("to_v", image, 3, d, d);
        String cq = nn.linear("add_q_proj", context, 3, d, d);
        String ck = nn.linear("add_k_proj", context, 3, d, d);
        String cv = nn.linear("add_v_proj", context, 3, d, d);
        String joint = nn.attention(g.concat(1, cq, q), g.concat(1, ck, k), g.concat(1, cv, v), l + n, c.heads(), d,
                null);
        if (last) {
            String img = g.slice(joint, new long[] {l}, new long[] {l + n}, new long[] {1}, null);
            return new String[] {nn.linear("to_out.0", img, 3, d, d), null};
        }
        String[] parts = g.split(joint, 1, l, n);
        return new String[] {nn.linear("to_out.0", parts[1], 3, d, d), nn.linear("to_add_out", parts[0], 3, d, d)};
    }

    private String feedForward(String name, String x) {
        return g.inScope(name, () -> nn.mlp(x, 3, d, c.mlpHidden(), d, "net.0.proj", "net.2", true));
    }

    /** {@code parts} vectors of width d from a zero-initialised Linear of SiLU(c), each shaped [B, 1, d]. */
    private String[] modulation(String linear, String siluCond, int parts) {
        String emb = g.unsqueeze(nn.zeroLinear(linear, siluCond, 2, d, parts * d), 1);
        long[] sizes = new long[parts];
        java.util.Arrays.fill(sizes, d);
        return g.split(emb, 2, sizes);
    }

    /** {@code x (1 + scale) + shift}. */
    private String modulate(String x, String shift, String scale) {
        return g.add(g.mul(x, g.add(scale, one)), shift);
    }

    /** [B, tokens, p p C] to [B, C, H, W]: token (r, c) holds its patch as (p_row, p_col, channel). */
    private String unpatchify(String x) {
        long patch = c.patchSize();
        String grid = g.reshape(x, -1, c.gridHeight(), c.gridWidth(), patch, patch, c.latentChannels());
        String chw = g.transpose(grid, 0, 5, 1, 3, 2, 4);
        return g.reshape(chw, -1, c.latentChannels(), c.latentHeight(), c.latentWidth());
    }
}
