package io.senseflow.onnx.runtime;

import static io.senseflow.onnx.runtime.Fixtures.CPU1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.ModelLoadException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.TokenizedPrompts;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class OrtTextEncoderTest {
    private static OrtRuntime ort;

    @BeforeAll
    static void start() {
        ort = OrtRuntime.create(CPU1);
    }

    @AfterAll
    static void stop() {
        ort.close();
    }

    static long[][] rows(long[] flat, int batch) {
        int len = flat.length / batch;
        long[][] out = new long[batch][len];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(flat, b * len, out[b], 0, len);
        }
        return out;
    }

    @Test
    void bertTinyReproducesPyTorch() {
        try (SafetensorsFile ref = SafetensorsFile.open(Fixtures.torchExport("bert_tiny.reference.safetensors"));
             OrtTextEncoder enc = OrtTextEncoder.builder(ort.load(Fixtures.torchExport("bert_tiny.onnx"))).build()) {
            assertThat(enc.maskInput()).isEqualTo("attention_mask");
            assertThat(enc.tokensOutput()).isEqualTo("last_hidden_state");
            assertThat(enc.pooledOutput()).isEqualTo("pooler_output");
            long[][] ids = rows(ref.longs("input.input_ids"), 2);
            long[][] mask = rows(ref.longs("input.attention_mask"), 2);
            assertThat(mask[1][11]).isZero(); // the second row is padded
            Conditioning c = enc.encode(new TokenizedPrompts(ids, mask));
            assertThat(Fixtures.maxAbsDiff(c.tokens(), ref.tensor("output.last_hidden_state"))).isLessThanOrEqualTo(1e-5f);
            assertThat(Fixtures.maxAbsDiff(c.pooled(), ref.tensor("output.pooler_output"))).isLessThanOrEqualTo(1e-5f);
            assertThat(c.mask().shape()).containsExactly(2, 12);
            assertThat(c.mask().at(1, 11)).isZero();
            assertThat(c.mask().at(0, 11)).isEqualTo(1f);
        }
    }

    @Test
    void bertWithoutMaskOrPooledAndWithoutHiddenStates() {
        try (OrtModel bert = ort.load(Fixtures.torchExport("bert_tiny.onnx"))) {
            assertThatThrownBy(() -> OrtTextEncoder.builder(bert).hiddenState(-2).build())
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessageStartingWith("torch-exports/bert_tiny.onnx exposes no hidden states ('hidden_states.0', "
                            + "'hidden_states.1', ...), so hidden state -2 cannot be used");
            assertThatThrownBy(() -> OrtTextEncoder.builder(bert).tokensOutput("text_embeds").build())
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessage("torch-exports/bert_tiny.onnx has no output 'text_embeds'; its outputs are [last_hidden_state, pooler_output]");
            // without a mask input the graph still needs one: the model refuses the call
            OrtTextEncoder noMask = OrtTextEncoder.builder(bert).maskInput(null).pooledOutput(null).includeMask(false).build();
            assertThatThrownBy(() -> noMask.encode(new TokenizedPrompts(new long[][] {{1, 2}}, new long[][] {{1, 1}})))
                    .hasMessageContaining("missing required input 'attention_mask'");
        }
    }

    /**
     * A stand-in for a CLIP export with output_hidden_states: h0 = ids, h(k) = h(k-1) * 2 + k, exposed as
     * hidden_states.0..3, plus last_hidden_state = h3 and text_embeds = h3 at position 0.
     */
    static OnnxModel hiddenStatesModel() {
        GraphBuilder g = GraphBuilder.create("clip_like");
        String ids = g.input("input_ids", DataType.INT64, Dim.symbolic("batch"), Dim.symbolic("sequence"));
        String h = g.unsqueeze(g.cast(ids, DataType.FLOAT), 2);
        String[] states = new String[4];
        states[0] = h;
        for (int k = 1; k < 4; k++) {
            states[k] = g.add(g.mul(states[k - 1], g.floatScalar(2f)), g.floatScalar(k));
        }
        Dim b = Dim.symbolic("batch");
        Dim s = Dim.symbolic("sequence");
        for (int k = 0; k < 4; k++) {
            g.output(g.identity(states[k]), "hidden_states." + k, DataType.FLOAT, b, s, Dim.of(1));
        }
        g.output(g.identity(states[3]), "last_hidden_state", DataType.FLOAT, b, s, Dim.of(1));
        g.output(g.squeeze(g.slice(states[3], new long[] {0}, new long[] {1}, new long[] {1}, new long[] {1}), 1, 2),
                "text_embeds", DataType.FLOAT, b);
        return g.build();
    }

    @Test
    void penultimateHiddenStateIsPickedLikePython() {
        TokenizedPrompts tokens = new TokenizedPrompts(new long[][] {{1, 5, 7}, {1, 9, 0}}, new long[][] {{1, 1, 1}, {1, 1, 0}});
        try (OrtTextEncoder penultimate = OrtTextEncoder.builder(ort.load(hiddenStatesModel(), "text_encoder/model.onnx", CPU1))
                .hiddenState(-2).build()) {
            assertThat(penultimate.tokensOutput()).isEqualTo("hidden_states.2");
            assertThat(penultimate.maskInput()).isNull();
            assertThat(penultimate.pooledOutput()).isEqualTo("text_embeds");
            Conditioning c = penultimate.encode(tokens);
            // h2 = 4 ids + 4 (h1 = 2 ids + 1)
            assertThat(c.tokens().shape()).containsExactly(2, 3, 1);
            assertThat(c.tokens().toArray()).containsExactly(8f, 24f, 32f, 8f, 40f, 4f);
            // pooled: h3 = 2 h2 + 3 at position 0
            assertThat(c.pooled().toArray()).containsExactly(19f, 19f);
        }
        try (OrtModel m = ort.load(hiddenStatesModel(), "text_encoder/model.onnx", CPU1)) {
            assertThat(OrtTextEncoder.builder(m).hiddenState(0).build().encode(tokens).tokens())
                    .isEqualTo(Tensor.of(new float[] {1, 5, 7, 1, 9, 0}, 2, 3, 1));
            assertThat(OrtTextEncoder.builder(m).build().encode(tokens).tokens().get(1)).isEqualTo(8 * 5 + 11f);
            assertThatThrownBy(() -> OrtTextEncoder.builder(m).hiddenState(-5).build())
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("hidden state -5 is not among the 4 exposed [hidden_states.0, hidden_states.1, hidden_states.2, hidden_states.3]");
        }
    }

    @Test
    void closingTheEncoderClosesTheModel() {
        OrtTextEncoder enc = OrtTextEncoder.builder(ort.load(hiddenStatesModel(), "t.onnx", CPU1)).build();
        enc.close();
        enc.close();
        assertThat(enc.model().isClosed()).isTrue();
        assertThatThrownBy(() -> enc.encode(new TokenizedPrompts(new long[][] {{1}}, new long[][] {{1}})))
                .isInstanceOf(IllegalStateException.class).hasMessage("OrtModel t.onnx is closed");
    }
}
