package io.senseflow.onnx.arch;

import io.senseflow.onnx.ir.ConvOptions;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.TensorValue;
import java.util.HashMap;
import java.util.Map;

/**
 * The layers the in-house architectures share, written with the operators both engines handle. Parameters keep
 * PyTorch's layouts (a Linear's weight is {@code [out, in]}, a Conv's {@code [out, in, k, k]}, a norm's scale
 * {@code [C]}), so weights trained in PyTorch load by name.
 */
final class Layers {
    private final GraphBuilder g;
    private final Params p;
    private final Map<Long, String> ones = new HashMap<>();

    Layers(GraphBuilder g, Params p) {
        this.g = g;
        this.p = p;
    }

    GraphBuilder graph() {
        return g;
    }

    Params params() {
        return p;
    }

    /**
     * A Linear layer in scope {@code name} with parameters {@code weight [out, in]} and {@code bias [out]}.
     *
     * @param rank the rank of {@code x}: 2 uses {@code Gemm} with a transposed weight (as PyTorch exports), more
     *     uses {@code MatMul} with the transposed weight
     */
    String linear(String name, String x, int rank, long in, long out) {
        return g.inScope(name, () -> apply(x, rank, p.weight("weight", in, out, in), p.bias("bias", out)));
    }

    /** A Linear layer whose weight is zero under {@link Init#DEFAULT} (adaLN-Zero). */
    String zeroLinear(String name, String x, int rank, long in, long out) {
        return g.inScope(name, () -> apply(x, rank, p.zeroInitWeight("weight", in, out, in), p.bias("bias", out)));
    }

    private String apply(String x, int rank, String weight, String bias) {
        if (rank == 2) {
            return g.gemm(x, weight, bias, 1f, 1f, false, true);
        }
        return g.add(g.matMul(x, g.transpose(weight, 1, 0)), bias);
    }

    /** LayerNorm over the last axis without affine parameters (the scale input ONNX requires is a constant 1). */
    String layerNorm(String x, long width, float eps) {
        return g.layerNormalization(x, ones(width), null, -1, eps);
    }

    /** LayerNorm over the last axis with parameters {@code weight [width]} and {@code bias [width]} in scope name. */
    String layerNorm(String name, String x, long width, float eps) {
        return g.inScope(name, () -> g.layerNormalization(x, p.scale("weight", width), p.bias("bias", width), -1, eps));
    }

    /** A 2-D convolution in scope {@code name}: {@code weight [out, in, k, k]}, {@code bias [out]}. */
    String conv(String name, String x, long in, long out, long kernel, long stride, long pad) {
        return g.inScope(name, () -> g.conv(x, p.weight("weight", in * kernel * kernel, out, in, kernel, kernel),
                p.bias("bias", out), ConvOptions.of2d(stride, pad)));
    }

    /**
     * GroupNorm over {@code [B, C, H, W]} as PyTorch exports it: reshape to {@code [B, groups, -1]}, instance
     * normalisation with unit scale and zero shift (constants, not parameters), reshape back, then the per-channel
     * affine with parameters {@code weight [C]} and {@code bias [C]} in scope name.
     */
    String groupNorm(String name, String x, long channels, long groups, long height, long width, float eps) {
        return g.inScope(name, () -> {
            String grouped = g.reshape(x, -1, groups, channels / groups * height * width);
            String normed = g.op("InstanceNormalization").input(grouped, ones(groups), zeros(groups))
                    .attr("epsilon", eps).output();
            String back = g.reshape(normed, -1, channels, height, width);
            String scale = g.unsqueeze(p.scale("weight", channels), 1, 2);
            String shift = g.unsqueeze(p.bias("bias", channels), 1, 2);
            return g.add(g.mul(back, scale), shift);
        });
    }

    /**
     * Multi-head scaled dot-product attention over {@code [B, T, width]} queries, keys and values.
     *
     * @param scoreBias added to the {@code [B, heads, T, T]} scores (broadcast), or null
     * @return the {@code [B, T, width]} result, heads concatenated
     */
    String attention(String q, String k, String v, long tokens, long heads, long width, String scoreBias) {
        long headDim = width / heads;
        String qh = g.transpose(g.reshape(q, -1, tokens, heads, headDim), 0, 2, 1, 3);
        String kt = g.transpose(g.reshape(k, -1, tokens, heads, headDim), 0, 2, 3, 1);
        String vh = g.transpose(g.reshape(v, -1, tokens, heads, headDim), 0, 2, 1, 3);
        String scores = g.matMul(g.mul(qh, g.floatScalar((float) (1.0 / Math.sqrt(headDim)))), kt);
        if (scoreBias != null) {
            scores = g.add(scores, scoreBias);
        }
        String out = g.matMul(g.softmax(scores, -1), vh);
        return g.reshape(g.transpose(out, 0, 2, 1, 3), -1, tokens, width);
    }

    /** Two Linear layers with an activation between them, as scopes {@code first} and {@code second}. */
    String mlp(String x, int rank, long in, long hidden, long out, String first, String second, boolean gelu) {
        String h = linear(first, x, rank, in, hidden);
        h = gelu ? g.gelu(h) : g.silu(h);
        return linear(second, h, rank, hidden, out);
    }

    /** A constant vector of ones, made once per length. */
    String ones(long n) {
        return ones.computeIfAbsent(n, k -> {
            float[] v = new float[Math.toIntExact(k)];
            java.util.Arrays.fill(v, 1f);
            return g.constant(TensorValue.ofFloats("", v, k));
        });
    }

    private String zeros(long n) {
        return g.constant(TensorValue.ofFloats("", new float[Math.toIntExact(n)], n));
    }
}
