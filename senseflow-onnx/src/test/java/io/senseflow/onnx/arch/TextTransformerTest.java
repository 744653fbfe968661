package io.senseflow.onnx.arch;

import io.senseflow.train.ParameterSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TextTransformerTest {
    static final TextTransformer.Config SMALL = TextTransformer.Config.builder()
            .vocab(50).length(6).width(32).depth(2).heads(4).mlpRatio(2.0).build();

    /** Three samples: all tokens real, two padding tokens at the end, a hole in the middle. */
    static final long[] IDS = {3, 17, 42, 8, 0, 49, 5, 5, 11, 30, 0, 0, 7, 1, 2, 3, 4, 5};
    static final long[] MASK = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1};

    static Map<String, OrtRunner.Out> run(OnnxModel model, long[] ids, long[] mask) {
        int batch = ids.length / SMALL.length();
        return OrtRunner.run(model, Map.of("input_ids", OrtRunner.longs(ids, batch, SMALL.length()),
                "attention_mask", OrtRunner.longs(mask, batch, SMALL.length())));
    }

    @Test
    void onnxRuntimeMatchesTheJavaReferenceWithEveryParameterRandom() {
        OnnxModel model = TextTransformer.build(SMALL, 5, Init.RANDOM_ALL);
        Map<String, OrtRunner.Out> out = run(model, IDS, MASK);
        Weights w = new Weights(model);
        TextTransformerReference.Result ref = new TextTransformerReference(SMALL, w).forward(IDS, MASK);
        assertThat(w.unused()).isEmpty();
        assertThat(out.get("last_hidden_state").shape()).containsExactly(3, 6, 32);
        assertThat(out.get("pooler_output").shape()).containsExactly(3, 32);
        Parity.assertNotTrivial("text encoder last_hidden_state", ref.lastHiddenState());
        Parity.assertNotTrivial("text encoder pooler_output", ref.pooled());
        Parity.assertMatches("text encoder last_hidden_state (RANDOM_ALL)", out.get("last_hidden_state").values(),
                ref.lastHiddenState());
        Parity.assertMatches("text encoder pooler_output (RANDOM_ALL)", out.get("pooler_output").values(), ref.pooled());
    }

    @Test
    void maskedTokensDoNotReachRealTokensOrThePooledOutput() {
        OnnxModel model = TextTransformer.build(SMALL, 5);
        long[] changed = IDS.clone();
        changed[10] = 33; // padding of sample 1
        changed[14] = 44; // hole of sample 2
        Map<String, OrtRunner.Out> a = run(model, IDS, MASK);
        Map<String, OrtRunner.Out> b = run(model, changed, MASK);
        assertThat(b.get("pooler_output").values()).containsExactly(a.get("pooler_output").values());
        float[] la = a.get("last_hidden_state").values();
        float[] lb = b.get("last_hidden_state").values();
        for (int t = 0; t < MASK.length; t++) {
            float[] ta = Arrays.copyOfRange(la, t * 32, t * 32 + 32);
            float[] tb = Arrays.copyOfRange(lb, t * 32, t * 32 + 32);
            if (MASK[t] != 0) {
                assertThat(tb).as("token " + t).containsExactly(ta);
            } else if (t == 10 || t == 14) {
                assertThat(tb).as("masked token " + t + " itself changes").isNotEqualTo(ta);
            }
        }
    }

    @Test
    void aSampleWithoutRealTokensPoolsToZeroWithoutNaN() {
        OnnxModel model = TextTransformer.build(SMALL, 5, Init.RANDOM_ALL);
        Map<String, OrtRunner.Out> out = run(model, new long[] {1, 2, 3, 4, 5, 6}, new long[6]);
        assertThat(out.get("pooler_output").values()).containsOnly(0f);
        for (float v : out.get("last_hidden_state").values()) {
            assertThat(Float.isFinite(v)).isTrue();
        }
    }

    @Test
    void interfaceParametersAndDeterminism() {
        OnnxModel model = TextTransformer.build(SMALL, 1);
        assertThat(model.graph().inputs()).containsExactly(
                ValueInfo.tensor("input_ids", DataType.INT64, Dim.symbolic("batch"), Dim.of(6)),
                ValueInfo.tensor("attention_mask", DataType.INT64, Dim.symbolic("batch"), Dim.of(6)));
        assertThat(model.graph().outputs().stream().map(ValueInfo::name)).containsExactly("last_hidden_state",
                "pooler_output");
        assertThat(AllowedOps.LIST).containsAll(model.graph().opTypeCounts().keySet());

        List<ParameterSpec> fromGraph = new ArrayList<>();
        for (TensorValue t : model.graph().initializers()) {
            fromGraph.add(ParameterSpec.of(t.name(), t.dims()));
        }
        assertThat(TextTransformer.parameters(SMALL)).containsExactlyElementsOf(fromGraph);
        assertThat(fromGraph).contains(new ParameterSpec("embeddings.token_embedding.weight", 50, 32),
                new ParameterSpec("embeddings.position_embedding.weight", 6, 32),
                new ParameterSpec("encoder.layers.1.self_attn.q_proj.weight", 32, 32),
                new ParameterSpec("encoder.layers.1.mlp.fc1.weight", 64, 32),
                new ParameterSpec("final_layer_norm.bias", 32));
        assertThat(TextTransformer.parameterCount(SMALL)).isEqualTo(expectedCount(SMALL));
        TextTransformer.Config def = TextTransformer.Config.defaults();
        assertThat(TextTransformer.parameterCount(def)).isEqualTo(expectedCount(def)).isEqualTo(923_136L);

        assertThat(TextTransformer.build(SMALL, 1).toByteArray()).isEqualTo(model.toByteArray());
        assertThat(TextTransformer.build(SMALL, 2).graph().initializer("embeddings.token_embedding.weight"))
                .isNotEqualTo(model.graph().initializer("embeddings.token_embedding.weight"));
        assertThat(TextTransformer.Config.fromMetadata(model)).isEqualTo(SMALL);
    }

    static long expectedCount(TextTransformer.Config c) {
        long d = c.width();
        long h = c.mlpHidden();
        long perLayer = 2 * 2 * d + 4 * (d * d + d) + (d * h + h) + (h * d + d);
        return (long) c.vocab() * d + (long) c.length() * d + c.depth() * perLayer + 2 * d;
    }

    @Test
    void badConfigsAndMetadataAreTyped() {
        assertThatThrownBy(() -> SMALL.toBuilder().width(30).build())
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("TextTransformer.Config.width: expected a multiple of heads (4), got 30");
        assertThatThrownBy(() -> SMALL.toBuilder().vocab(0).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("TextTransformer.Config.vocab");
        assertThatThrownBy(() -> SMALL.toBuilder().length(-3).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("TextTransformer.Config.length");
        OnnxModel transformer = FlowTransformer.build(FlowTransformerTest.SMALL, 1);
        assertThatThrownBy(() -> TextTransformer.Config.fromMetadata(transformer))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("model 'flow_transformer'")
                .hasMessageContaining("expected text_encoder, got flow_transformer");
    }
}
