package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Optimizer;
import io.senseflow.train.ParameterStore;
import io.senseflow.train.Upstream;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The discriminator choice in {@link DistillationConfig.Gan}: presets, JSON round trip, older JSON, bad values. */
class GanConfigTest {

    @Test
    void presetsPickTheVfmDiscriminatorWhenTheGanIsOn() {
        for (Family f : Family.values()) {
            assertThat(DistillationConfig.preset(Recipe.SENSEFLOW, f).gan().discriminator())
                    .isEqualTo(DiscriminatorKind.VFM);
            assertThat(DistillationConfig.preset(Recipe.DMD_IDA_ISG, f).gan().discriminator())
                    .isEqualTo(DiscriminatorKind.NONE);
        }
    }

    @Test
    void theKindRoundTripsThroughJsonAndOlderJsonWithoutItStillReads() {
        DistillationConfig c = DistillationConfig.preset(Recipe.SENSEFLOW, Family.FLUX).toBuilder()
                .gan(new DistillationConfig.Gan(true, GanWeighting.paper(), DiscriminatorKind.FAKE_SCORE_FEATURES))
                .build();
        String json = c.toJson();
        assertThat(json).contains("\"discriminator\": \"fake-score-features\"");
        DistillationConfig back = DistillationConfig.fromJson(json);
        assertThat(back.gan().discriminator()).isEqualTo(DiscriminatorKind.FAKE_SCORE_FEATURES);
        assertThat(back).isEqualTo(c);
        String older = json.replace(",\n    \"discriminator\": \"fake-score-features\"", "");
        assertThat(older).doesNotContain("fake-score-features");
        assertThat(DistillationConfig.fromJson(older).gan().discriminator()).isEqualTo(DiscriminatorKind.VFM);
    }

    @Test
    void anEnabledGanWithoutADiscriminatorAndUnknownKindsAreErrors() {
        assertThatThrownBy(() -> new DistillationConfig.Gan(true, GanWeighting.paper(), DiscriminatorKind.NONE))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("gan.discriminator");
        String json = DistillationConfig.preset(Recipe.SENSEFLOW, Family.SD35_LARGE).toJson()
                .replace("\"discriminator\": \"vfm\"", "\"discriminator\": \"dino\"");
        assertThatThrownBy(() -> DistillationConfig.fromJson(json)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("gan.discriminator").hasMessageContaining("\"dino\"");
    }

    /** A discriminator that asks for random inputs: records what it is called with. */
    static final class Noisy implements DifferentiableModule, RandomInputs {
        final Mlp inner = new Mlp(MlpSpec.discriminator(2, 8, 16, 1), 2, AdamWConfig.constant(1e-3));
        final List<Float> marks = new ArrayList<>();

        @Override
        public ModuleInputs withRandomInputs(ModuleInputs inputs, RandomStream rng) {
            return inputs.with("mark", Tensor.vector((float) rng.nextUniform()));
        }

        private ModuleInputs strip(ModuleInputs in) {
            marks.add(in.get("mark").get(0));
            java.util.Map<String, Tensor> rest = new java.util.LinkedHashMap<>(in.tensors());
            rest.remove("mark");
            return new ModuleInputs(rest);
        }

        @Override
        public Tensor forward(ModuleInputs inputs) {
            return inner.forward(strip(inputs));
        }

        @Override
        public BackwardResult backward(ModuleInputs inputs, Upstream upstream, GradientMode mode) {
            return inner.backward(strip(inputs), upstream, mode);
        }

        @Override
        public ParameterStore parameters() {
            return inner.parameters();
        }

        @Override
        public Optimizer optimizer() {
            return inner.optimizer();
        }

        @Override
        public void close() {
        }
    }

    @Test
    void theEngineCompletesTheInputsOfDiscriminatorsThatAskForRandomness() {
        DistillationConfig cfg = DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM).toBuilder().batchSize(8)
                .ttur(1).seed(3).optimizers(AdamWConfig.constant(1e-3)).build();
        MlpSpec spec = MlpSpec.denoiser(2, 8, 16, 2);
        Noisy d = new Noisy();
        Distiller run = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(new Mlp(spec, 1, cfg.generatorOptimizer())).fakeScore(new Mlp(spec, 1,
                        cfg.fakeScoreOptimizer())).discriminator(d).dataset(MixtureExperiment.dataset(1))
                .promptEncoder(MixtureExperiment.PROMPTS).build();
        run.step();
        // the generator's GAN pass and the real and fake discriminator updates: three draws from three streams
        assertThat(d.marks).hasSize(3).doesNotHaveDuplicates();
        assertThat(run.step().losses()).containsKeys("gan", "discriminator_real", "discriminator_fake");
    }

    @Test
    void theFakeScoreFeatureDiscriminatorRefusesADecoder() {
        DistillationConfig cfg = DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM).toBuilder()
                .gan(new DistillationConfig.Gan(true, GanWeighting.paper(), DiscriminatorKind.FAKE_SCORE_FEATURES))
                .optimizers(AdamWConfig.constant(1e-3)).build();
        MlpSpec spec = MlpSpec.denoiser(2, 8, 16, 2);
        Mlp decoder = new Mlp(MlpSpec.denoiser(2, 8, 16, 2), 4, null);
        assertThatThrownBy(() -> Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(new Mlp(spec, 1, cfg.generatorOptimizer())).fakeScore(new Mlp(spec, 1,
                        cfg.fakeScoreOptimizer())).discriminator(new Noisy()).decoder(decoder)
                .dataset(MixtureExperiment.dataset(1)).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("decoder")
                .hasMessageContaining("fake-score-features");
    }
}
