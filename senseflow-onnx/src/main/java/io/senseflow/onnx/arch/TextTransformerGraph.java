package io.senseflow.onnx.arch;

import static io.senseflow.onnx.arch.TextTransformer.NORM_EPS;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;

/** The graph of {@link TextTransformer}; see its Javadoc for the structure and the parameter names. */
final class TextTransformerGraph {
    private TextTransformerGraph() {
    }

    static void define(Layers nn, TextTransformer.Config c) {
        GraphBuilder g = nn.graph();
        Params p = nn.params();
        long d = c.width();
        long len = c.length();
        Dim batch = Dim.symbolic("batch");
        String ids = g.input(TextTransformer.INPUT_IDS, DataType.INT64, batch, Dim.of(len));
        String mask = g.input(TextTransformer.ATTENTION_MASK, DataType.INT64, batch, Dim.of(len));

        String h = g.inScope("embeddings", () -> {
            String tokens = g.inScope("token_embedding", () -> g.gather(p.normal("weight", 0.02, c.vocab(), d), ids, 0));
            String positions = g.inScope("position_embedding", () -> p.normal("weight", 0.01, len, d));
            return g.add(tokens, positions);
        });

        // a non-zero mask entry is a real token; masked keys get a large negative score
        String real = g.cast(mask, DataType.BOOL);
        String keyBias = g.unsqueeze(g.where(real, g.floatScalar(0f), g.floatScalar(TextTransformer.MASKED_SCORE)), 1, 2);

        for (int i = 0; i < c.depth(); i++) {
            h = layer(nn, c, "encoder.layers." + i, h, keyBias);
        }
        String out = nn.layerNorm("final_layer_norm", h, d, NORM_EPS);

        // pooler_output: mean over real tokens; a sample without any gets 0 (its count is replaced by 1)
        String weights = g.cast(real, DataType.FLOAT);
        String sum = g.reduceSum(g.mul(out, g.unsqueeze(weights, 2)), false, 1);
        String count = g.reduceSum(weights, true, 1);
        String safeCount = g.where(g.cast(count, DataType.BOOL), count, g.floatScalar(1f));
        String pooled = g.div(sum, safeCount);

        g.output(out, TextTransformer.LAST_HIDDEN_STATE, DataType.FLOAT, batch, Dim.of(len), Dim.of(d));
        g.output(pooled, TextTransformer.POOLER_OUTPUT, DataType.FLOAT, batch, Dim.of(d));
    }

    private static String layer(Layers nn, TextTransformer.Config c, String name, String x, String keyBias) {
        GraphBuilder g = nn.graph();
        long d = c.width();
        return g.inScope(name, () -> {
            String n1 = nn.layerNorm("layer_norm1", x, d, NORM_EPS);
            String attn = g.inScope("self_attn", () -> {
                String q = nn.linear("q_proj", n1, 3, d, d);
                String k = nn.linear("k_proj", n1, 3, d, d);
                String v = nn.linear("v_proj", n1, 3, d, d);
                String o = nn.attention(q, k, v, c.length(), c.heads(), d, keyBias);
                return nn.linear("out_proj", o, 3, d, d);
            });
            String h = g.add(x, attn);
            String n2 = nn.layerNorm("layer_norm2", h, d, NORM_EPS);
            String mlp = g.inScope("mlp", () -> nn.mlp(n2, 3, d, c.mlpHidden(), d, "fc1", "fc2", true));
            return g.add(h, mlp);
        });
    }
}
