package io.senseflow.tf.discriminator;

import io.senseflow.fixtures.Fixtures;
import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DiffAugment;
import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.GanWeighting;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.model.LatentFormat;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ModuleGenerator;
import io.senseflow.train.ModuleInputs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Short SenseFlow distillation runs of a tiny latent flow transformer with the GAN term on: the VFM discriminator
 * (PyTorch's ViT export as the backbone, behind a frozen VAE decoder, with differentiable augmentation) and the
 * fake-score-features discriminator. Every loss stays finite, the heads train, the frozen parts stay frozen.
 */
class GanDistillationTest {
    static final Path VIT = Fixtures.path("torch-exports/vit_tiny.onnx");
    static final int BATCH = 2;

    static DistillationConfig config(DiscriminatorKind kind) {
        return DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM).toBuilder().batchSize(BATCH).iterations(6)
                .ttur(2).seed(3).optimizers(AdamWConfig.constant(1e-4))
                .gan(new DistillationConfig.Gan(true, GanWeighting.fluxReleased(), kind)).build();
    }

    static List<IterationMetrics> run(Distiller d) {
        List<IterationMetrics> seen = new ArrayList<>();
        d.addListener(seen::add);
        d.run(CancellationToken.none());
        return seen;
    }

    /** The first iteration builds every backward graph and TensorFlow prepares each new run; report it apart. */
    static String timing(List<IterationMetrics> metrics) {
        double first = metrics.get(0).phaseNanos().get("total") / 1e6;
        double rest = metrics.stream().skip(1).mapToLong(m -> m.phaseNanos().get("total")).sum() / 1e6
                / (metrics.size() - 1);
        double gen = metrics.stream().skip(1).filter(IterationMetrics::generatorUpdated)
                .mapToLong(m -> m.phaseNanos().get("gan")).average().orElse(Double.NaN) / 1e6;
        double disc = metrics.stream().skip(1).mapToLong(m -> m.phaseNanos().get("discriminator_update")).average()
                .orElse(Double.NaN) / 1e6;
        return String.format("%d iterations, first %.0f ms, then %.0f ms/iteration (GAN term %.0f ms, discriminator"
                + " update %.0f ms)", metrics.size(), first, rest, gen, disc);
    }

    static void assertFinite(List<IterationMetrics> metrics) {
        assertThat(metrics).hasSize(6);
        for (IterationMetrics m : metrics) {
            assertThat(m.skipped()).isFalse();
            assertThat(m.losses()).containsKeys("fake_score", "discriminator_real", "discriminator_fake");
            m.losses().forEach((k, v) -> assertThat(v).as("iteration " + m.iteration() + " " + k).isFinite());
            m.parameterGradientNorms().forEach((k, v) -> assertThat(v).as(k).isFinite());
        }
        assertThat(metrics.stream().filter(IterationMetrics::generatorUpdated)).hasSize(3)
                .allSatisfy(m -> assertThat(m.losses()).containsKeys("dmd", "isg", "gan"));
        // the GAN gradient reaches the generator (omega is 0 only at s = 1)
        assertThat(metrics.stream().filter(IterationMetrics::generatorUpdated)
                .mapToDouble(m -> m.outputGradientNorms().get("gan")).max().orElse(0)).isGreaterThan(0);
    }

    @Test
    void vfmDiscriminatorBehindTheDecoderKeepsEveryLossFinite() {
        DistillationConfig cfg = config(DiscriminatorKind.VFM);
        OnnxModel teacherGraph = TinyModels.flow(1);
        try (TfWorkspace ws = TfWorkspace.create();
             TfModule teacher = TinyModels.denoiser(teacherGraph, "teacher", ws, BATCH, null);
             TfModule g = TinyModels.denoiser(teacherGraph, "generator", ws, BATCH, cfg.generatorOptimizer());
             TfModule f = TinyModels.denoiser(teacherGraph, "fake_score", ws, BATCH, cfg.fakeScoreOptimizer());
             TfModule decoder = TinyModels.decoder(ws, BATCH)) {
            Backbone backbone = Backbone.builder(OnnxModel.read(VIT))
                    .taps(List.of(Tap.patchEmbedding(), Tap.afterBlock(0), Tap.afterBlock(2))).build();
            try (Discriminator d = Discriminator.forConfig(cfg, backbone, null, null).orElseThrow().workspace(ws)
                    .inputShape(BATCH, 3, 32, 32).conditionedLike(g)
                    .heads(HeadSpec.defaults().withWidth(16).withTextConditioning(TinyModels.POOLED, 8)).build()) {
                assertThat(d.kind()).isEqualTo(DiscriminatorKind.VFM);
                Tensor probe = decoder.forward(ModuleInputs.of(TinyModels.dataset(3).batch(0, BATCH).realSamples(),
                        null));
                Map<String, Tensor> features = d.features(ModuleInputs.of(probe,
                        TinyModels.conditioning(1, BATCH)));
                Map<String, Tensor> heads = d.parameters().snapshot();
                Map<String, Tensor> decoderWeights = decoder.parameters().snapshot();
                Distiller distiller = Distiller.builder().config(cfg).teacher(new ModuleGenerator(teacher,
                        new LatentFormat(4, 4, 2))).generator(g).fakeScore(f).discriminator(d).decoder(decoder)
                        .augmentation(DiffAugment.standard(), true).dataset(TinyModels.dataset(3)).build();
                List<IterationMetrics> metrics = run(distiller);
                System.out.printf("distillation with the VFM discriminator (vit_tiny behind a VAE decoder): %s,"
                        + " last losses %s%n", timing(metrics), metrics.get(metrics.size() - 1).losses());
                assertFinite(metrics);
                assertThat(d.parameters().snapshot()).isNotEqualTo(heads);
                assertThat(d.features(ModuleInputs.of(probe, TinyModels.conditioning(1, BATCH)))).isEqualTo(features);
                assertThat(decoder.parameters().snapshot()).isEqualTo(decoderWeights);
                assertThat(d.optimizer().stepCount()).isEqualTo(6);
            }
        }
    }

    @Test
    void fakeScoreFeatureDiscriminatorKeepsEveryLossFiniteAndLeavesTheFakeScoreToItsOwnUpdates() {
        DistillationConfig cfg = config(DiscriminatorKind.FAKE_SCORE_FEATURES);
        OnnxModel teacherGraph = TinyModels.flow(1);
        try (TfWorkspace ws = TfWorkspace.create();
             TfModule teacher = TinyModels.denoiser(teacherGraph, "teacher", ws, BATCH, null);
             TfModule g = TinyModels.denoiser(teacherGraph, "generator", ws, BATCH, cfg.generatorOptimizer());
             TfModule f = TinyModels.denoiser(teacherGraph, "fake_score", ws, BATCH, cfg.fakeScoreOptimizer());
             Discriminator d = Discriminator.forConfig(cfg, null, f, Tap.afterBlocks(0)).orElseThrow()
                     .inputShape(BATCH, 4, 8, 8).heads(HeadSpec.defaults().withWidth(16)).build()) {
            Map<String, Tensor> heads = d.parameters().snapshot();
            Distiller distiller = Distiller.builder().config(cfg).teacher(new ModuleGenerator(teacher,
                    new LatentFormat(4, 4, 2))).generator(g).fakeScore(f).discriminator(d)
                    .augmentation(DiffAugment.geometric(), true).dataset(TinyModels.dataset(3)).build();
            List<IterationMetrics> metrics = run(distiller);
            System.out.printf("distillation with the fake-score-features discriminator: %s, last losses %s%n",
                    timing(metrics), metrics.get(metrics.size() - 1).losses());
            assertFinite(metrics);
            assertThat(d.parameters().snapshot()).isNotEqualTo(heads);
            // F moved only by its own 6 steps (and IDA): its optimizer counted exactly those
            assertThat(f.optimizer().stepCount()).isEqualTo(6);
        }
    }
}
