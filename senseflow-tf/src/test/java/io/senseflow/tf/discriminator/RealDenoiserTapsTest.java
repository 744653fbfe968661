package io.senseflow.tf.discriminator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.train.DenoiserSpec;
import io.senseflow.tf.train.FluxIds;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The fake-score-features discriminator's taps on the shared Optimum denoisers as exported. */
class RealDenoiserTapsTest {
    static OnnxModel graph(String path) {
        return OnnxModel.read(Fixtures.path("optimum-exports/" + path).resolve("model.onnx"));
    }

    @Test
    void blockOutputsAndGridsAreFoundOnSd3FluxAndSdxl() {
        BackboneStructure sd3 = BackboneStructure.of(graph("sd3/onnx/transformer"), "hidden_states");
        assertThat(sd3.blockCount()).isEqualTo(3);
        assertThat(sd3.patchSize()).contains(new BackboneStructure.PatchSize(2, 2));
        assertThat(sd3.resolve(Tap.afterBlock(-1))).isEqualTo("/transformer_blocks.2/Add_3_output_0");
        // FLUX: the image stream is the one that descends from hidden_states (text, time and rotary streams enter
        // the blocks too); packed tokens have no patchifying Conv, so the grid comes from Builder.tokenGrid
        BackboneStructure flux = BackboneStructure.of(graph("flux_dev/onnx/transformer"), "hidden_states");
        assertThat(flux.blockCount()).isEqualTo(2);
        assertThat(flux.resolve(Tap.afterBlock(0))).isEqualTo("/transformer_blocks.0/Add_3_output_0");
        assertThatThrownBy(() -> BackboneStructure.of(graph("flux_dev/onnx/transformer")).resolve(Tap.afterBlock(0)))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("/x_embedder/Add_output_0");
        // SDXL: down blocks, the mid block and up blocks, each passing one feature map on
        BackboneStructure unet = BackboneStructure.of(graph("sdxl/onnx/unet"), "sample");
        assertThat(unet.blockCount()).isEqualTo(7);
        assertThat(unet.resolveAll(List.of(Tap.afterBlock(0), Tap.afterBlock(1), Tap.afterBlock(3),
                Tap.afterBlock(-1)))).containsExactly("/down_blocks.0/downsamplers.0/conv/Conv_output_0",
                "/down_blocks.1/downsamplers.0/conv/Conv_output_0", "/mid_block/resnets.1/Div_output_0",
                "/up_blocks.2/resnets.1/Div_output_0");
    }

    @Test
    void aFakeScoreDiscriminatorOnFluxPackedTokens() {
        ImportOptions ids = ImportOptions.builder().constantInput("img_ids", FluxIds.imageIds(8, 8))
                .constantInput("txt_ids", FluxIds.textIds(24)).build();
        Tensor x = GaussianNoise.sample(1, 0, 1, 2, 16, 64);
        Conditioning c = Conditioning.of(GaussianNoise.sample(1, 0, 2, 2, 24, 48), GaussianNoise.sample(1, 0, 3, 2, 24))
                .withExtra("guidance", Tensor.full(3.5f, 2));
        try (TfWorkspace ws = TfWorkspace.create(TfSessionOptions.defaults().withGraphOptimizations(false));
             TfModule f = DenoiserSpec.flux().applyTo(TfModule.builder(graph("flux_dev/onnx/transformer"))
                     .name("fake_score").workspace(ws).importOptions(ids).optimizer(AdamWConfig.constant(1e-3))).build()) {
            ModuleInputs example = ModuleInputs.of(x, c).with("guidance", c.extras().get("guidance"))
                    .with(ModuleInputs.SIGMA, Tensor.full(0.5f, 2)).with(Discriminator.NOISE, x);
            assertThatThrownBy(() -> Discriminator.onFakeScore(f, List.of(Tap.afterBlock(-1))).exampleInputs(example)
                    .build()).isInstanceOf(InvalidRequestException.class).hasMessageContaining("tokenGrid");
            try (Discriminator d = Discriminator.onFakeScore(f, List.of(Tap.afterBlock(0), Tap.afterBlock(-1)))
                    .exampleInputs(example).tokenGrid(4, 4).heads(HeadSpec.defaults().withWidth(8)).seed(3)
                    .optimizer(AdamWConfig.constant(1e-3)).build()) {
                ModuleInputs in = d.withRandomInputs(ModuleInputs.of(x, c).with("guidance", c.extras().get("guidance")),
                        new RandomStream(5, 1, 0));
                Map<String, Tensor> features = d.features(in);
                // image tokens of width 36 on the 4 x 4 token grid
                assertThat(features.values()).allSatisfy(t -> assertThat(t.shape()).containsExactly(2, 4, 4, 36));
                d.optimizer().zeroGradients();
                d.backward(in, Upstream.hinge(1, null), GradientMode.PARAMETERS);
                assertThat(d.optimizer().gradientNorm()).isPositive().isFinite();
                Tensor dx = d.backward(in, Upstream.linear(-1, null), GradientMode.INPUTS).inputGradient(ModuleInputs.X);
                assertThat(dx.shape()).containsExactly(2, 16, 64);
                assertThat(dx.maxAbs()).isPositive().isFinite();
            }
        }
    }
}
