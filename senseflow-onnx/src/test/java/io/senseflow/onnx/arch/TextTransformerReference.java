package io.senseflow.onnx.arch;

import static io.senseflow.onnx.arch.RefOps.add;
import static io.senseflow.onnx.arch.RefOps.layerNorm;
import static io.senseflow.onnx.arch.RefOps.linear;

/** The text encoder's forward pass in plain Java (double precision): the oracle for the ONNX graph. */
final class TextTransformerReference {
    private static final double EPS = 1e-5;
    private final TextTransformer.Config c;
    private final Weights w;

    TextTransformerReference(TextTransformer.Config config, Weights weights) {
        this.c = config;
        this.w = weights;
    }

    /** Outputs of a batch. */
    record Result(float[] lastHiddenState, float[] pooled) {
    }

    Result forward(long[] ids, long[] mask) {
        int len = c.length();
        int d = c.width();
        int batch = ids.length / len;
        float[] last = new float[batch * len * d];
        float[] pooled = new float[batch * d];
        float[] tok = w.get("embeddings.token_embedding.weight");
        float[] pos = w.get("embeddings.position_embedding.weight");
        for (int b = 0; b < batch; b++) {
            double[] h = new double[len * d];
            double[] keyBias = new double[len];
            for (int t = 0; t < len; t++) {
                int id = (int) ids[b * len + t];
                for (int k = 0; k < d; k++) {
                    h[t * d + k] = (double) tok[id * d + k] + pos[t * d + k];
                }
                keyBias[t] = mask[b * len + t] != 0 ? 0 : -1e9;
            }
            for (int i = 0; i < c.depth(); i++) {
                h = layer("encoder.layers." + i + ".", h, keyBias);
            }
            h = layerNorm(h, len, d, EPS, w.get("final_layer_norm.weight"), w.get("final_layer_norm.bias"));
            int count = 0;
            double[] sum = new double[d];
            for (int t = 0; t < len; t++) {
                if (mask[b * len + t] != 0) {
                    count++;
                    for (int k = 0; k < d; k++) {
                        sum[k] += h[t * d + k];
                    }
                }
                for (int k = 0; k < d; k++) {
                    last[(b * len + t) * d + k] = (float) h[t * d + k];
                }
            }
            for (int k = 0; k < d; k++) {
                pooled[b * d + k] = (float) (sum[k] / Math.max(count, 1));
            }
        }
        return new Result(last, pooled);
    }

    private double[] layer(String pre, double[] x, double[] keyBias) {
        int len = c.length();
        int d = c.width();
        double[] n1 = layerNorm(x, len, d, EPS, w.get(pre + "layer_norm1.weight"), w.get(pre + "layer_norm1.bias"));
        double[] q = lin(pre + "self_attn.q_proj", n1, d, d);
        double[] k = lin(pre + "self_attn.k_proj", n1, d, d);
        double[] v = lin(pre + "self_attn.v_proj", n1, d, d);
        double[] o = lin(pre + "self_attn.out_proj", RefOps.attention(q, k, v, len, c.heads(), d, keyBias), d, d);
        double[] h = add(x, o);
        double[] n2 = layerNorm(h, len, d, EPS, w.get(pre + "layer_norm2.weight"), w.get(pre + "layer_norm2.bias"));
        double[] m = lin(pre + "mlp.fc2", RefOps.gelu(lin(pre + "mlp.fc1", n2, d, c.mlpHidden())), c.mlpHidden(), d);
        return add(h, m);
    }

    private double[] lin(String name, double[] x, int in, int out) {
        return linear(x, c.length(), in, w.get(name + ".weight"), w.get(name + ".bias"), out);
    }
}
