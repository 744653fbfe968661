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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class AutoencoderTest {
    /** 3 x 16 x 16 images to 4 x 4 x 4 latents: two downsamplings, a channel change at every level. */
    static final Autoencoder.Config SMALL = Autoencoder.Config.builder()
            .imageSize(16, 16).channels(8, 16, 24).groups(4).scalingFactor(0.5).shiftFactor(0.1).build();

    static float[] images(int batch) {
        float[] x = Parity.normals(21, batch * 3 * 16 * 16);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) Math.tanh(x[i]); // in [-1, 1] like real images
        }
        return x;
    }

    @Test
    void encoderMatchesTheJavaReferenceWithEveryParameterRandom() {
        OnnxModel enc = Autoencoder.build(SMALL, Autoencoder.Part.ENCODER, 8, Init.RANDOM_ALL);
        float[] x = images(2);
        OrtRunner.Out out = OrtRunner.run(enc, Map.of("sample", OrtRunner.floats(x, 2, 3, 16, 16))).get("latent");
        assertThat(out.shape()).containsExactly(2, 4, 4, 4);
        Weights w = new Weights(enc);
        float[] ref = new AutoencoderReference(SMALL, w).encode(x);
        assertThat(w.unused()).isEmpty();
        Parity.assertNotTrivial("encoder latent", ref);
        Parity.assertMatches("autoencoder encoder (RANDOM_ALL)", out.values(), ref);
    }

    @Test
    void decoderMatchesTheJavaReferenceWithEveryParameterRandom() {
        OnnxModel dec = Autoencoder.build(SMALL, Autoencoder.Part.DECODER, 8, Init.RANDOM_ALL);
        float[] z = Parity.normals(22, 2 * 4 * 4 * 4);
        OrtRunner.Out out = OrtRunner.run(dec, Map.of("latent", OrtRunner.floats(z, 2, 4, 4, 4))).get("sample");
        assertThat(out.shape()).containsExactly(2, 3, 16, 16);
        Weights w = new Weights(dec);
        float[] ref = new AutoencoderReference(SMALL, w).decode(z);
        assertThat(w.unused()).isEmpty();
        Parity.assertNotTrivial("decoder sample", ref);
        Parity.assertMatches("autoencoder decoder (RANDOM_ALL)", out.values(), ref);
        for (float v : out.values()) {
            assertThat(v).isBetween(-1f, 1f);
        }
    }

    @Test
    void nonSquareImagesAndASingleLevelMatchTheReference() {
        Autoencoder.Config wide = SMALL.toBuilder().imageSize(8, 12).channels(4, 8).groups(2).build();
        float[] x = Parity.normals(31, 8 * 12 * 3);
        OnnxModel enc = Autoencoder.build(wide, Autoencoder.Part.ENCODER, 2, Init.RANDOM_ALL);
        OrtRunner.Out z = OrtRunner.run(enc, Map.of("sample", OrtRunner.floats(x, 1, 3, 8, 12))).get("latent");
        assertThat(z.shape()).containsExactly(1, 4, 4, 6);
        Parity.assertMatches("autoencoder encoder, 8 x 12 (RANDOM_ALL)", z.values(),
                new AutoencoderReference(wide, new Weights(enc)).encode(x));
        OnnxModel dec = Autoencoder.build(wide, Autoencoder.Part.DECODER, 2, Init.RANDOM_ALL);
        OrtRunner.Out y = OrtRunner.run(dec, Map.of("latent", OrtRunner.floats(z.values(), 1, 4, 4, 6))).get("sample");
        assertThat(y.shape()).containsExactly(1, 3, 8, 12);
        Parity.assertMatches("autoencoder decoder, 8 x 12 (RANDOM_ALL)", y.values(),
                new AutoencoderReference(wide, new Weights(dec)).decode(z.values()));

        Autoencoder.Config flat = SMALL.toBuilder().imageSize(6, 10).channels(8).build(); // no resampling at all
        OnnxModel enc1 = Autoencoder.build(flat, Autoencoder.Part.ENCODER, 2, Init.RANDOM_ALL);
        float[] x1 = Parity.normals(32, 6 * 10 * 3);
        Parity.assertMatches("autoencoder encoder, one level (RANDOM_ALL)",
                OrtRunner.run(enc1, Map.of("sample", OrtRunner.floats(x1, 1, 3, 6, 10))).get("latent").values(),
                new AutoencoderReference(flat, new Weights(enc1)).encode(x1));
    }

    @Test
    void defaultConfigMapsThirtyTwoPixelImagesToEightByEightLatentsAndBack() {
        Autoencoder.Config def = Autoencoder.Config.defaults();
        OnnxModel enc = Autoencoder.buildEncoder(def, 1);
        OnnxModel dec = Autoencoder.buildDecoder(def, 1);
        assertThat(enc.graph().inputs()).containsExactly(ValueInfo.tensor("sample", DataType.FLOAT,
                Dim.symbolic("batch"), Dim.of(3), Dim.of(32), Dim.of(32)));
        assertThat(enc.graph().outputs()).containsExactly(ValueInfo.tensor("latent", DataType.FLOAT,
                Dim.symbolic("batch"), Dim.of(4), Dim.of(8), Dim.of(8)));
        assertThat(dec.graph().inputs().get(0).name()).isEqualTo("latent");
        assertThat(dec.graph().outputs().get(0).name()).isEqualTo("sample");
        float[] x = Parity.normals(3, 3 * 32 * 32);
        float[] z = OrtRunner.run(enc, Map.of("sample", OrtRunner.floats(x, 1, 3, 32, 32))).get("latent").values();
        float[] y = OrtRunner.run(dec, Map.of("latent", OrtRunner.floats(z, 1, 4, 8, 8))).get("sample").values();
        Parity.assertNotTrivial("default encoder", z);
        Parity.assertNotTrivial("default decoder", y);
        assertThat(AllowedOps.LIST).containsAll(enc.graph().opTypeCounts().keySet())
                .containsAll(dec.graph().opTypeCounts().keySet());
        assertThat(dec.graph().opTypeCounts()).containsKeys("Resize", "InstanceNormalization", "Tanh");
        assertThat(Autoencoder.parameterCount(def, Autoencoder.Part.ENCODER)).isEqualTo(274_084L);
        assertThat(Autoencoder.parameterCount(def, Autoencoder.Part.DECODER)).isEqualTo(329_475L);
    }

    @Test
    void parametersMetadataAndDeterminism() {
        for (Autoencoder.Part part : Autoencoder.Part.values()) {
            OnnxModel m = Autoencoder.build(SMALL, part, 4, Init.DEFAULT);
            List<ParameterSpec> fromGraph = new ArrayList<>();
            for (TensorValue t : m.graph().initializers()) {
                fromGraph.add(ParameterSpec.of(t.name(), t.dims()));
                assertThat(t.name()).startsWith(part.id() + ".");
            }
            assertThat(Autoencoder.parameters(SMALL, part)).containsExactlyElementsOf(fromGraph);
            assertThat(Autoencoder.partOf(m)).isEqualTo(part);
            assertThat(Autoencoder.Config.fromMetadata(m)).isEqualTo(SMALL);
            assertThat(m.metadata()).containsEntry(ArchitectureMetadata.SCALING_FACTOR, "0.5")
                    .containsEntry(ArchitectureMetadata.SHIFT_FACTOR, "0.1")
                    .containsEntry(ArchitectureMetadata.COMPONENT, part.id());
            assertThat(Autoencoder.build(SMALL, part, 4, Init.DEFAULT).toByteArray()).isEqualTo(m.toByteArray());
            assertThat(Autoencoder.build(SMALL, part, 5, Init.DEFAULT).toByteArray()).isNotEqualTo(m.toByteArray());
        }
        assertThat(Autoencoder.parameters(SMALL, Autoencoder.Part.ENCODER)).contains(
                new ParameterSpec("encoder.conv_in.weight", 8, 3, 3, 3),
                new ParameterSpec("encoder.down_blocks.1.resnets.0.conv_shortcut.weight", 16, 8, 1, 1),
                new ParameterSpec("encoder.down_blocks.0.downsamplers.0.conv.weight", 8, 8, 3, 3),
                new ParameterSpec("encoder.mid_block.resnets.0.norm1.weight", 24),
                new ParameterSpec("encoder.conv_out.weight", 4, 24, 3, 3));
        assertThat(Autoencoder.parameters(SMALL, Autoencoder.Part.DECODER)).contains(
                new ParameterSpec("decoder.conv_in.weight", 24, 4, 3, 3),
                new ParameterSpec("decoder.up_blocks.0.upsamplers.0.conv.weight", 24, 24, 3, 3),
                new ParameterSpec("decoder.up_blocks.2.resnets.0.conv_shortcut.weight", 8, 16, 1, 1),
                new ParameterSpec("decoder.conv_out.weight", 3, 8, 3, 3));
        assertThat(Autoencoder.Config.fromJson(SMALL.toJson())).isEqualTo(SMALL);
    }

    @Test
    void badConfigsAndMetadataAreTyped() {
        assertThatThrownBy(() -> SMALL.toBuilder().imageSize(18, 16).build())
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("Autoencoder.Config.imageHeight: expected a multiple of the downsampling factor "
                        + "2^(channels.size() - 1) (4), got 18");
        assertThatThrownBy(() -> SMALL.toBuilder().channels(8, 18, 24).build())
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("Autoencoder.Config.channels[1]: expected a multiple of groups (4), got 18");
        assertThatThrownBy(() -> SMALL.toBuilder().channels().build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("Autoencoder.Config.channels");
        assertThatThrownBy(() -> SMALL.toBuilder().latentChannels(0).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("latentChannels");
        assertThatThrownBy(() -> SMALL.toBuilder().scalingFactor(0).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("scalingFactor");
        assertThatThrownBy(() -> SMALL.toBuilder().shiftFactor(Double.POSITIVE_INFINITY).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("shiftFactor");

        OnnxModel dec = Autoencoder.buildDecoder(SMALL, 1);
        Map<String, String> meta = new HashMap<>(dec.metadata());
        meta.put(ArchitectureMetadata.COMPONENT, "middle");
        assertThatThrownBy(() -> Autoencoder.partOf(dec.withMetadata(meta)))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("senseflow.component: expected encoder or decoder, got middle");
        Map<String, String> bad = new HashMap<>(dec.metadata());
        bad.put(ArchitectureMetadata.CONFIG, SMALL.toJson().replace("\"channels\":[8,16,24]", "\"channels\":\"8\""));
        assertThatThrownBy(() -> Autoencoder.Config.fromMetadata(bad, "vae_decoder/model.onnx"))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("vae_decoder/model.onnx")
                .hasMessageContaining("channels");
    }
}
