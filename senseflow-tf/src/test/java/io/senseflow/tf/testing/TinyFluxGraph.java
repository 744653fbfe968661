package io.senseflow.tf.testing;

import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import java.util.List;

/**
 * A tiny denoiser with a FLUX-style teacher-only input: {@code hidden_states [batch, 2, 4, 4]}, {@code timestep [batch]}
 * (s), {@code guidance [batch]}, {@code encoder_hidden_states [batch, 3, 8]}, {@code pooled_projections [batch, 8]} to
 * {@code out_hidden_states}. The noise level (with sin/cos features), the pooled embedding and the mean token make a
 * conditioning vector; the guidance scale goes through its own embedder and is added to it (as FLUX's
 * {@code guidance_embedder}); an MLP on the flattened state and the conditioning predicts the velocity. 4,368 parameters.
 */
public final class TinyFluxGraph {
    /** Channels, height, width of a sample. */
    public static final int C = 2;
    public static final int H = 4;
    public static final int W = 4;
    static final int TEXT_LEN = 3;
    static final int TEXT_WIDTH = 8;

    private TinyFluxGraph() {
    }

    /** @param seed weight seed @return the teacher graph */
    public static OnnxModel teacher(long seed) {
        GraphBuilder g = GraphBuilder.create("tiny_flux");
        Dim b = Dim.symbolic("batch");
        String x = g.input("hidden_states", DataType.FLOAT, b, Dim.of(C), Dim.of(H), Dim.of(W));
        String t = g.input("timestep", DataType.FLOAT, b);
        String guidance = g.input("guidance", DataType.FLOAT, b);
        String tokens = g.input("encoder_hidden_states", DataType.FLOAT, b, Dim.of(TEXT_LEN), Dim.of(TEXT_WIDTH));
        String pooled = g.input("pooled_projections", DataType.FLOAT, b, Dim.of(TEXT_WIDTH));
        String s = g.unsqueeze(t, 1);
        String freq = g.mul(s, g.floatVector(3.14159265f, 6.2831853f, 12.566371f, 25.132741f));
        String cond = g.concat(1, s, g.sin(freq), g.cos(freq), pooled, g.reduceMean(tokens, false, 1));
        Weights w = new Weights(g, seed);
        String c = g.silu(w.linear("time_text_embed", cond, 25, 16));
        String gemb = g.silu(w.linear("guidance_embedder", g.unsqueeze(guidance, 1), 1, 16));
        c = g.add(c, gemb);
        String h = g.concat(1, g.flatten(x, 1), c);
        h = g.silu(w.linear("l1", h, C * H * W + 16, 48));
        h = w.linear("l2", h, 48, C * H * W);
        g.output(g.reshape(h, -1, C, H, W), "out_hidden_states", DataType.FLOAT, b, Dim.of(C), Dim.of(H), Dim.of(W));
        return g.build();
    }

    /** @return the float initializers of {@code teacher(1)} by name */
    public static java.util.Map<String, Tensor> initialParameters() {
        java.util.Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        for (io.senseflow.onnx.ir.TensorValue t : teacher(1).graph().initializers()) {
            if (t.dataType() == DataType.FLOAT) {
                m.put(t.name(), t.toTensor());
            }
        }
        return m;
    }

    private record Weights(GraphBuilder g, long seed) {
        String linear(String name, String in, int fanIn, int fanOut) {
            float scale = (float) (1 / Math.sqrt(fanIn));
            float[] wv = GaussianNoise.sample(seed, Math.floorMod(name.hashCode(), 1 << 20), 5, fanOut * fanIn)
                    .scale(scale).toArray();
            float[] bv = GaussianNoise.sample(seed, Math.floorMod(name.hashCode(), 1 << 20), 6, fanOut).scale(0.1f).toArray();
            return g.gemm(in, g.initializer(name + ".weight", wv, fanOut, fanIn), g.initializer(name + ".bias", bv, fanOut),
                    1f, 1f, false, true);
        }
    }

    /**
     * Synthetic data: real samples are smooth per-prompt patterns plus noise, conditioning is seeded noise per prompt
     * (cached, so no prompt encoder is needed).
     *
     * @param seed the data seed
     * @return the dataset
     */
    public static DistillationDataset dataset(long seed) {
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int batchSize) {
                float[] real = new float[batchSize * C * H * W];
                float[] tok = new float[batchSize * TEXT_LEN * TEXT_WIDTH];
                float[] pool = new float[batchSize * TEXT_WIDTH];
                for (int i = 0; i < batchSize; i++) {
                    long index = iteration * batchSize + i;
                    int prompt = (int) (index % 4);
                    Tensor p = GaussianNoise.sample(seed, prompt, 40, TEXT_LEN * TEXT_WIDTH + TEXT_WIDTH);
                    System.arraycopy(p.toArray(), 0, tok, i * TEXT_LEN * TEXT_WIDTH, TEXT_LEN * TEXT_WIDTH);
                    System.arraycopy(p.toArray(), TEXT_LEN * TEXT_WIDTH, pool, i * TEXT_WIDTH, TEXT_WIDTH);
                    float[] n = GaussianNoise.sample(seed, index, 41, C * H * W).toArray();
                    for (int k = 0; k < C * H * W; k++) {
                        double pattern = Math.sin(0.7 * k * (prompt + 1) + prompt);
                        real[i * C * H * W + k] = (float) (pattern + 0.1 * n[k]);
                    }
                }
                Conditioning cond = Conditioning.of(Tensor.wrap(tok, batchSize, TEXT_LEN, TEXT_WIDTH),
                        Tensor.wrap(pool, batchSize, TEXT_WIDTH));
                return new DistillationBatch(List.of(), cond, null, Tensor.wrap(real, batchSize, C, H, W));
            }

            @Override
            public int[] sampleShape() {
                return new int[] {C, H, W};
            }
        };
    }
}
