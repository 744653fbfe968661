package io.senseflow.tf.discriminator;

import io.senseflow.onnx.ir.ConvOptions;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import java.util.Random;

/**
 * A small pre-norm vision transformer written with {@link GraphBuilder} for the discriminator tests: timm-style
 * names ({@code patch_embed.proj}, {@code cls_token}, {@code pos_embed}, {@code blocks.<k>.attn.q},
 * {@code blocks.<k>.mlp.fc1}, {@code norm}), a CLS token and optional register tokens, multi-head attention, GELU
 * MLPs. Input {@code pixel_values [batch, 3, size, size]}, output {@code last_hidden_state [batch, 1 + registers +
 * (size/patch)^2, width]}.
 */
final class TinyVit {
    private TinyVit() {
    }

    static OnnxModel build(int size, int patch, int width, int depth, int heads, int registers, long seed) {
        return build(size, patch, width, depth, heads, registers, seed, false);
    }

    /** @param dynamicSize declare height and width symbolic (the graph itself still works at {@code size} only) */
    static OnnxModel build(int size, int patch, int width, int depth, int heads, int registers, long seed,
                           boolean dynamicSize) {
        Random r = new Random(seed);
        GraphBuilder g = GraphBuilder.create("tiny_vit");
        Dim side = dynamicSize ? Dim.symbolic("height") : Dim.of(size);
        Dim side2 = dynamicSize ? Dim.symbolic("width") : Dim.of(size);
        String x = g.input("pixel_values", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3), side, side2);
        int grid = size / patch;
        int tokens = grid * grid;
        int prefix = 1 + registers;
        String conv = g.inScope("patch_embed", () -> g.inScope("proj", () -> g.conv(x,
                g.initializer("weight", gauss(r, width * 3 * patch * patch, 1 / Math.sqrt(3.0 * patch * patch)), width, 3,
                        patch, patch),
                g.initializer("bias", gauss(r, width, 0.02), width), ConvOptions.of2d(patch, 0))));
        String seq = g.transpose(g.reshape(conv, -1, width, tokens), 0, 2, 1);
        String batch = g.unsqueeze(g.gather(g.shape(seq), g.longScalar(0), 0), 0);
        String prefixShape = g.concat(0, batch, g.longVector(prefix, width));
        String cls = g.initializer("cls_token", gauss(r, prefix * width, 0.5), 1, prefix, width);
        String h = g.concat(1, g.expand(cls, prefixShape), seq);
        h = g.add(h, g.initializer("pos_embed", gauss(r, (prefix + tokens) * width, 0.5), 1, prefix + tokens, width));
        for (int k = 0; k < depth; k++) {
            String in = h;
            h = g.inScope("blocks." + k, () -> block(g, r, in, width, heads));
        }
        String last = h;
        String out = g.inScope("norm", () -> layerNorm(g, r, last, width));
        g.output(out, "last_hidden_state", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(prefix + tokens), Dim.of(width));
        return g.build();
    }

    private static String block(GraphBuilder g, Random r, String x, int width, int heads) {
        String a = g.inScope("norm1", () -> layerNorm(g, r, x, width));
        String attn = g.inScope("attn", () -> attention(g, r, a, width, heads));
        String h = g.add(x, attn);
        String m = g.inScope("norm2", () -> layerNorm(g, r, h, width));
        String mlp = g.inScope("mlp", () -> {
            String f = g.gelu(linear(g, r, "fc1", m, width, 2 * width));
            return linear(g, r, "fc2", f, 2 * width, width);
        });
        return g.add(h, mlp);
    }

    private static String attention(GraphBuilder g, Random r, String x, int width, int heads) {
        int hd = width / heads;
        String q = split(g, linear(g, r, "q", x, width, width), heads, hd);
        String k = split(g, linear(g, r, "k", x, width, width), heads, hd);
        String v = split(g, linear(g, r, "v", x, width, width), heads, hd);
        String scores = g.mul(g.matMul(q, g.transpose(k, 0, 1, 3, 2)), g.floatScalar((float) (1 / Math.sqrt(hd))));
        String o = g.matMul(g.softmax(scores, -1), v);
        String merged = g.reshape(g.transpose(o, 0, 2, 1, 3), 0, -1, width);
        return linear(g, r, "proj", merged, width, width);
    }

    private static String split(GraphBuilder g, String x, int heads, int hd) {
        return g.transpose(g.reshape(x, 0, -1, heads, hd), 0, 2, 1, 3);
    }

    private static String linear(GraphBuilder g, Random r, String name, String x, int in, int out) {
        return g.inScope(name, () -> g.add(g.matMul(x, g.initializer("weight", gauss(r, in * out, 1 / Math.sqrt(in)),
                in, out)), g.initializer("bias", gauss(r, out, 0.02), out)));
    }

    private static String layerNorm(GraphBuilder g, Random r, String x, int width) {
        float[] scale = gauss(r, width, 0.1);
        for (int i = 0; i < width; i++) {
            scale[i] += 1;
        }
        return g.layerNormalization(x, g.initializer("weight", scale, width), g.initializer("bias", gauss(r, width, 0.1),
                width), -1, 1e-6f);
    }

    private static float[] gauss(Random r, int n, double std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextGaussian() * std);
        }
        return v;
    }
}
