package io.senseflow.onnx.arch;

import io.senseflow.train.ParameterSpec;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FlowTransformerTest {
    /** Small but complete: 2 blocks (one full, one context-pre-only), 16 image and 5 text tokens, 4 heads. */
    static final FlowTransformer.Config SMALL = FlowTransformer.Config.builder()
            .latentChannels(4).latentSize(8, 8).patchSize(2).width(32).depth(2).heads(4)
            .textWidth(24).textLength(5).pooledWidth(16).mlpRatio(2.0).build();

    static Map<String, OrtRunner.In> inputs(FlowTransformer.Config c, int batch, long seed) {
        Map<String, OrtRunner.In> in = new HashMap<>();
        in.put("hidden_states", OrtRunner.floats(Parity.normals(seed, batch * c.latentChannels() * c.latentHeight()
                * c.latentWidth()), batch, c.latentChannels(), c.latentHeight(), c.latentWidth()));
        in.put("encoder_hidden_states", OrtRunner.floats(Parity.normals(seed + 1, batch * c.textLength()
                * c.textWidth()), batch, c.textLength(), c.textWidth()));
        in.put("pooled_projections", OrtRunner.floats(Parity.normals(seed + 2, batch * c.pooledWidth()), batch,
                c.pooledWidth()));
        float[] s = new float[batch];
        for (int b = 0; b < batch; b++) {
            s[b] = 0.137f + 0.71f * b / Math.max(1, batch - 1);
        }
        in.put("timestep", OrtRunner.floats(s, batch));
        return in;
    }

    static float[] data(Map<String, OrtRunner.In> in, String name) {
        return (float[]) in.get(name).data();
    }

    @Test
    void onnxRuntimeMatchesTheJavaReferenceWithEveryParameterRandom() {
        OnnxModel model = FlowTransformer.build(SMALL, 11, Init.RANDOM_ALL);
        Map<String, OrtRunner.In> in = inputs(SMALL, 2, 100);
        float[] ort = OrtRunner.run(model, in).get("out_hidden_states").values();

        Weights w = new Weights(model);
        float[] ref = new FlowTransformerReference(SMALL, w).forward(data(in, "hidden_states"),
                data(in, "encoder_hidden_states"), data(in, "pooled_projections"), data(in, "timestep"));
        assertThat(w.unused()).as("parameters the reference does not use").isEmpty();
        Parity.assertNotTrivial("flow transformer output", ref);
        Parity.assertMatches("flow transformer (RANDOM_ALL)", ort, ref);
        // the two samples differ (different inputs and timesteps), so nothing is broadcast across the batch by mistake
        int per = ref.length / 2;
        assertThat(java.util.Arrays.copyOfRange(ort, 0, per)).isNotEqualTo(java.util.Arrays.copyOfRange(ort, per, 2 * per));
    }

    @Test
    void nonSquareLatentsOddChannelsAndASingleBlockMatchTheReference() {
        // a 2 x 3 patch grid catches any height/width mix-up in patchify, the position table or unpatchify
        FlowTransformer.Config c = SMALL.toBuilder().latentChannels(3).latentSize(4, 6).patchSize(2).width(16).heads(2)
                .depth(1).textLength(3).mlpRatio(1.5).build();
        OnnxModel model = FlowTransformer.build(c, 12, Init.RANDOM_ALL);
        Map<String, OrtRunner.In> in = inputs(c, 3, 200);
        OrtRunner.Out out = OrtRunner.run(model, in).get("out_hidden_states");
        assertThat(out.shape()).containsExactly(3, 3, 4, 6);
        Weights w = new Weights(model);
        float[] ref = new FlowTransformerReference(c, w).forward(data(in, "hidden_states"),
                data(in, "encoder_hidden_states"), data(in, "pooled_projections"), data(in, "timestep"));
        assertThat(w.unused()).isEmpty();
        Parity.assertNotTrivial("non-square flow transformer output", ref);
        Parity.assertMatches("flow transformer, 4 x 6 latents, depth 1 (RANDOM_ALL)", out.values(), ref);
    }

    @Test
    void aSampleDoesNotDependOnTheRestOfTheBatch() {
        OnnxModel model = FlowTransformer.build(SMALL, 3, Init.RANDOM_ALL);
        Map<String, OrtRunner.In> two = inputs(SMALL, 2, 5);
        float[] both = OrtRunner.run(model, two).get("out_hidden_states").values();
        Map<String, OrtRunner.In> one = new HashMap<>();
        for (Map.Entry<String, OrtRunner.In> e : two.entrySet()) {
            float[] all = (float[]) e.getValue().data();
            long[] shape = e.getValue().shape().clone();
            shape[0] = 1;
            one.put(e.getKey(), OrtRunner.floats(java.util.Arrays.copyOfRange(all, all.length / 2, all.length), shape));
        }
        float[] second = OrtRunner.run(model, one).get("out_hidden_states").values();
        float[] expected = java.util.Arrays.copyOfRange(both, both.length / 2, both.length);
        assertThat(Parity.relativeError(second, expected)).isLessThan(1e-6);
    }

    @Test
    void aFreshAdaLnZeroModelOutputsExactlyZero() {
        OnnxModel model = FlowTransformer.build(SMALL, 11);
        float[] out = OrtRunner.run(model, inputs(SMALL, 2, 7)).get("out_hidden_states").values();
        assertThat(out).hasSize(2 * 4 * 8 * 8);
        for (float v : out) {
            assertThat(v).isZero();
        }
        // zero-initialised exactly where adaLN-Zero says, and nowhere else
        for (TensorValue t : model.graph().initializers()) {
            boolean zeroInit = t.name().matches(".*norm1(_context)?\\.linear\\..*|norm_out\\.linear\\..*|proj_out\\..*");
            boolean allZero = true;
            for (float v : t.toFloats()) {
                allZero &= v == 0f;
            }
            if (zeroInit || t.name().endsWith(".bias")) {
                assertThat(allZero).as(t.name() + " is zero").isTrue();
            } else {
                assertThat(allZero).as(t.name() + " is not zero").isFalse();
            }
        }
    }

    @Test
    void thePositionTableStartsAtTheTwoDimensionalSinCosValues() {
        OnnxModel model = FlowTransformer.build(SMALL, 1);
        float[] table = model.graph().initializer("pos_embed.pos_embed").orElseThrow().toFloats();
        int d = SMALL.width();
        int q = d / 4;
        // token (row 2, col 3) of the 4 x 4 grid: first half encodes the column, second half the row
        int t = 2 * 4 + 3;
        for (int i = 0; i < q; i++) {
            double omega = Math.pow(10000, -(double) i / q);
            assertThat((double) table[t * d + i]).isCloseTo(Math.sin(3 * omega), org.assertj.core.data.Offset.offset(1e-6));
            assertThat((double) table[t * d + q + i]).isCloseTo(Math.cos(3 * omega), org.assertj.core.data.Offset.offset(1e-6));
            assertThat((double) table[t * d + 2 * q + i]).isCloseTo(Math.sin(2 * omega), org.assertj.core.data.Offset.offset(1e-6));
            assertThat((double) table[t * d + 3 * q + i]).isCloseTo(Math.cos(2 * omega), org.assertj.core.data.Offset.offset(1e-6));
        }
    }

    @Test
    void sameSeedGivesTheSameBytesAndAnotherSeedDifferentWeights(@TempDir Path dir) throws Exception {
        Path a = dir.resolve("a.onnx");
        Path b = dir.resolve("b.onnx");
        Path c = dir.resolve("c.onnx");
        FlowTransformer.build(SMALL, 42).write(a);
        FlowTransformer.build(SMALL, 42).write(b);
        FlowTransformer.build(SMALL, 43).write(c);
        assertThat(Files.readAllBytes(a)).isEqualTo(Files.readAllBytes(b));
        assertThat(Files.readAllBytes(a)).isNotEqualTo(Files.readAllBytes(c));
        OnnxModel ma = OnnxModel.read(a);
        OnnxModel mc = OnnxModel.read(c);
        String name = "transformer_blocks.0.attn.to_q.weight";
        assertThat(ma.graph().initializer(name).orElseThrow().toFloats())
                .isNotEqualTo(mc.graph().initializer(name).orElseThrow().toFloats());
        // the fixed table does not depend on the seed
        assertThat(ma.graph().initializer("pos_embed.pos_embed")).isEqualTo(mc.graph().initializer("pos_embed.pos_embed"));
    }

    @Test
    void interfaceIsTheSd3ExportsWithASymbolicBatch() {
        OnnxModel model = FlowTransformer.build(SMALL, 1);
        List<String> inputs = model.graph().inputs().stream().map(ValueInfo::name).toList();
        assertThat(inputs).containsExactly("hidden_states", "encoder_hidden_states", "pooled_projections", "timestep");
        ValueInfo out = model.graph().outputs().get(0);
        assertThat(out.name()).isEqualTo("out_hidden_states");
        assertThat(out.shape()).containsExactly(Dim.symbolic("batch"), Dim.of(4), Dim.of(8), Dim.of(8));
        assertThat(model.graph().inputs().get(3).shape()).containsExactly(Dim.symbolic("batch"));
        assertThat(model.opsetVersion("").getAsLong()).isEqualTo(17);
        assertThat(AllowedOps.LIST).containsAll(model.graph().opTypeCounts().keySet());
    }

    @Test
    void parameterListMatchesTheGraphAndTheFormula() {
        OnnxModel model = FlowTransformer.build(SMALL, 1);
        List<ParameterSpec> fromGraph = new ArrayList<>();
        for (TensorValue t : model.graph().initializers()) {
            fromGraph.add(ParameterSpec.of(t.name(), t.dims()));
        }
        assertThat(FlowTransformer.parameters(SMALL)).containsExactlyElementsOf(fromGraph);
        assertThat(FlowTransformer.parameterCount(SMALL)).isEqualTo(expectedCount(SMALL));
        assertThat(model.metadata().get(ArchitectureMetadata.PARAMETER_COUNT))
                .isEqualTo(Long.toString(expectedCount(SMALL)));
        assertThat(fromGraph).contains(new ParameterSpec("transformer_blocks.0.attn.to_q.weight", 32, 32),
                new ParameterSpec("transformer_blocks.0.norm1.linear.weight", 6 * 32, 32),
                new ParameterSpec("transformer_blocks.1.norm1_context.linear.weight", 2 * 32, 32),
                new ParameterSpec("pos_embed.pos_embed", 1, 16, 32),
                new ParameterSpec("pos_embed.proj.weight", 32, 4, 2, 2),
                new ParameterSpec("proj_out.weight", 16, 32));
        assertThat(fromGraph.stream().map(ParameterSpec::name))
                .doesNotContain("transformer_blocks.1.attn.to_add_out.weight", "transformer_blocks.1.ff_context.net.2.weight")
                .contains("transformer_blocks.0.attn.to_add_out.weight", "transformer_blocks.0.ff_context.net.2.weight");

        FlowTransformer.Config def = FlowTransformer.Config.defaults();
        assertThat(FlowTransformer.parameterCount(def)).isEqualTo(expectedCount(def)).isEqualTo(2_298_640L);
    }

    /** The parameter count written out by hand from the architecture. */
    static long expectedCount(FlowTransformer.Config c) {
        long d = c.width();
        long h = c.mlpHidden();
        long patchOut = (long) c.patchSize() * c.patchSize() * c.latentChannels();
        long linear = d * d + d;
        long ff = d * h + h + h * d + d;
        long n = d * c.latentChannels() * c.patchSize() * c.patchSize() + d + (long) c.imageTokens() * d;
        n += 256 * d + d + linear;                       // timestep embedder
        n += c.pooledWidth() * d + d + linear;           // pooled embedder
        n += c.textWidth() * d + d;                      // context embedder
        long full = 2 * (6 * d * d + 6 * d) + 8 * linear + 2 * ff;
        long last = (6 * d * d + 6 * d) + (2 * d * d + 2 * d) + 7 * linear + ff;
        n += (c.depth() - 1) * full + last;
        n += 2 * d * d + 2 * d;                          // norm_out
        n += patchOut * d + patchOut;                    // proj_out
        return n;
    }

    @Test
    void configRoundTripsThroughMetadataAndFiles(@TempDir Path dir) {
        OnnxModel model = FlowTransformer.build(SMALL, 9, Init.RANDOM_ALL);
        assertThat(FlowTransformer.Config.fromMetadata(model)).isEqualTo(SMALL);
        Path file = dir.resolve("transformer.onnx");
        model.write(file);
        OnnxModel read = OnnxModel.read(file);
        assertThat(FlowTransformer.Config.fromMetadata(read.metadata(), file.toString())).isEqualTo(SMALL);
        assertThat(ArchitectureMetadata.architectureOf(read)).contains("flow_transformer");
        assertThat(read.metadata()).containsEntry(ArchitectureMetadata.SEED, "9")
                .containsEntry(ArchitectureMetadata.INIT, "RANDOM_ALL");
        assertThat(FlowTransformer.Config.fromJson(SMALL.toJson())).isEqualTo(SMALL);
        FlowTransformer.Config odd = SMALL.toBuilder().mlpRatio(2.5).build();
        assertThat(FlowTransformer.Config.fromJson(odd.toJson())).isEqualTo(odd);
    }

    @Test
    void badMetadataFailsWithAModelLoadExceptionNamingTheProperty() {
        OnnxModel model = FlowTransformer.build(SMALL, 1);
        Map<String, String> meta = new HashMap<>(model.metadata());
        meta.remove(ArchitectureMetadata.CONFIG);
        assertThatThrownBy(() -> FlowTransformer.Config.fromMetadata(meta, "t.onnx"))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("t.onnx").hasMessageContaining("senseflow.config");

        Map<String, String> other = new HashMap<>(model.metadata());
        other.put(ArchitectureMetadata.ARCHITECTURE, "text_encoder");
        assertThatThrownBy(() -> FlowTransformer.Config.fromMetadata(other, "t.onnx"))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("senseflow.architecture: expected flow_transformer, got text_encoder");

        Map<String, String> newer = new HashMap<>(model.metadata());
        newer.put(ArchitectureMetadata.VERSION, "2");
        assertThatThrownBy(() -> FlowTransformer.Config.fromMetadata(newer, "t.onnx"))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("senseflow.architecture_version");

        Map<String, String> malformed = new HashMap<>(model.metadata());
        malformed.put(ArchitectureMetadata.CONFIG, "{\"width\": 32,}");
        assertThatThrownBy(() -> FlowTransformer.Config.fromMetadata(malformed, "t.onnx"))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("senseflow.config");

        Map<String, String> invalid = new HashMap<>(model.metadata());
        invalid.put(ArchitectureMetadata.CONFIG, SMALL.toJson().replace("\"heads\":4", "\"heads\":5"));
        assertThatThrownBy(() -> FlowTransformer.Config.fromMetadata(invalid, "t.onnx"))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("senseflow.config")
                .hasMessageContaining("width").hasMessageContaining("heads (5)")
                .hasCauseInstanceOf(InvalidRequestException.class);

        Map<String, String> unknown = new HashMap<>(model.metadata());
        unknown.put(ArchitectureMetadata.CONFIG, SMALL.toJson().replace("{", "{\"dropout\":0.1,"));
        assertThatThrownBy(() -> FlowTransformer.Config.fromMetadata(unknown, "t.onnx"))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("dropout");

        assertThatThrownBy(() -> FlowTransformer.Config.fromMetadata(OnnxModel.read(writeBare())))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("senseflow.architecture");
    }

    private static Path writeBare() {
        try {
            Path f = Files.createTempFile("bare", ".onnx");
            f.toFile().deleteOnExit();
            io.senseflow.onnx.ir.GraphBuilder g = io.senseflow.onnx.ir.GraphBuilder.create("bare");
            String x = g.input("x", io.senseflow.onnx.ir.DataType.FLOAT, Dim.of(1));
            g.output(g.identity(x), "y", io.senseflow.onnx.ir.DataType.FLOAT, Dim.of(1));
            g.build().write(f);
            return f;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void badConfigsNameTheField() {
        FlowTransformer.Builder b = SMALL.toBuilder();
        assertThatThrownBy(() -> SMALL.toBuilder().width(30).heads(4).build())
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("FlowTransformer.Config.width: expected a multiple of heads (4), got 30");
        assertThatThrownBy(() -> SMALL.toBuilder().latentSize(7, 8).build())
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("FlowTransformer.Config.latentHeight: expected a multiple of patchSize (2), got 7");
        assertThatThrownBy(() -> SMALL.toBuilder().latentSize(8, 9).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("latentWidth");
        assertThatThrownBy(() -> SMALL.toBuilder().depth(0).build())
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("FlowTransformer.Config.depth: expected a positive integer, got 0");
        assertThatThrownBy(() -> SMALL.toBuilder().latentChannels(-1).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("latentChannels");
        assertThatThrownBy(() -> SMALL.toBuilder().textLength(0).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("textLength");
        assertThatThrownBy(() -> SMALL.toBuilder().width(30).heads(3).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("width")
                .hasMessageContaining("sin-cos");
        assertThatThrownBy(() -> SMALL.toBuilder().mlpRatio(Double.NaN).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("mlpRatio");
        assertThatThrownBy(() -> SMALL.toBuilder().mlpRatio(0.01).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("mlpRatio");
        assertThatThrownBy(() -> FlowTransformer.build(SMALL, 1, null))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("init");
        assertThatThrownBy(() -> FlowTransformer.build(null, 1))
                .isInstanceOf(InvalidRequestException.class).hasMessage("config: expected a value, got null");
        assertThatThrownBy(() -> TextTransformer.parameters(null)).isInstanceOf(InvalidRequestException.class);
        assertThatThrownBy(() -> Autoencoder.build(Autoencoder.Config.defaults(), null, 1, Init.DEFAULT))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("part");
        assertThat(b.build()).isEqualTo(SMALL);
    }
}
