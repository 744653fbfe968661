package io.senseflow.tf.discriminator;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.model.LatentFormat;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.distill.DiffAugment;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleGenerator;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The paper's VFM backbone, DINOv2, as the discriminator's frozen feature extractor, end to end on the shared
 * DINOv2 export (transformers' {@code Dinov2Model} exported by torch for 42x42 inputs, whose graph interpolates its
 * 2x2 position table to 3x3 with a bicubic {@code Resize}): the taps after each block equal PyTorch's hidden
 * states, the input gradient through backbone and heads agrees with a central difference, and a short SenseFlow
 * distillation with it behind a VAE decoder keeps every loss finite and the backbone frozen.
 */
class DinoV2DiscriminatorTest {
    static final String DINO = "vision-backbones/dinov2_small_random";

    static Backbone backbone(Preprocessing p) {
        return Backbone.builder(OnnxModel.read(Fixtures.path(DINO + ".onnx")))
                .taps(List.of(Tap.afterBlock(0), Tap.afterBlock(1), Tap.afterBlock(2))).preprocessing(p).build();
    }

    @Test
    void tapsAfterEachBlockEqualPyTorchsHiddenStates() {
        Map<String, Tensor> ref;
        try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path(DINO + "_reference.safetensors"))) {
            ref = Map.of("in", f.tensorValue("in_pixel_values").toTensor(),
                    "h1", f.tensorValue("hidden_state_1").toTensor(), "h2", f.tensorValue("hidden_state_2").toTensor(),
                    "h3", f.tensorValue("hidden_state_3").toTensor());
        }
        // the reference input is already normalised: no preprocessing, the graph's own 42x42 size
        try (Discriminator d = Discriminator.vfm(backbone(Preprocessing.identity(3))).inputShape(2, 3, 42, 42).seed(1)
                .heads(HeadSpec.defaults().withWidth(8).withLayers(1, 1)).optimizer(AdamWConfig.constant(1e-3))
                .build()) {
            Map<String, Tensor> features = d.features(ModuleInputs.of(ref.get("in"), null));
            List<String> taps = d.tapValues();
            assertThat(taps).hasSize(3);
            for (int k = 0; k < 3; k++) {
                Tensor grid = features.get(taps.get(k));
                Tensor tokens = ref.get("h" + (k + 1)); // [2, 1 + 9, 48]: CLS, then the 3x3 patch grid
                assertThat(grid.shape()).as(taps.get(k)).containsExactly(2, 3, 3, 48);
                double worst = 0;
                double scale = 0;
                for (int b = 0; b < 2; b++) {
                    for (int p = 0; p < 9; p++) {
                        for (int c = 0; c < 48; c++) {
                            float want = tokens.at(b, 1 + p, c);
                            scale = Math.max(scale, Math.abs(want));
                            worst = Math.max(worst, Math.abs(grid.at(b, p / 3, p % 3, c) - want));
                        }
                    }
                }
                System.out.printf("DINOv2 tap after block %d (%s): max |diff| %.2e of max |ref| %.2f%n", k,
                        taps.get(k), worst, scale);
                assertThat(worst / scale).as(taps.get(k)).isLessThan(1e-4);
            }
        }
    }

    @Test
    void inputGradientThroughBackboneAndHeadsAgreesWithACentralDifference() {
        // decoded images in [-1, 1], ImageNet normalisation and a resize from 40x40 to the graph's 42x42 in front
        Preprocessing p = Preprocessing.imagenet();
        SplittableRandom r = new SplittableRandom(8);
        float[] x = new float[2 * 3 * 40 * 40];
        float[] v = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble(-0.9, 0.9);
            v[i] = (float) r.nextDouble(-1, 1);
        }
        try (Discriminator d = Discriminator.vfm(backbone(p)).inputShape(2, 3, 40, 40).seed(2)
                .heads(HeadSpec.defaults().withWidth(8).withLayers(1, 1)).optimizer(AdamWConfig.constant(1e-3))
                .build()) {
            Tensor xt = Tensor.wrap(x.clone(), 2, 3, 40, 40);
            // the gradient of the summed logits: an explicit upstream of ones over the forward's output
            Tensor out = d.forward(ModuleInputs.of(xt, null));
            float[] ones = new float[out.size()];
            java.util.Arrays.fill(ones, 1f);
            BackwardResult res = d.backward(ModuleInputs.of(xt, null), Upstream.explicit(Tensor.wrap(ones, out.shape())),
                    GradientMode.INPUTS);
            Tensor g = res.inputGradient(ModuleInputs.X);
            assertThat(g.shape()).containsExactly(2, 3, 40, 40);
            float[] gv = g.toArray();
            double analytic = 0;
            for (int i = 0; i < gv.length; i++) {
                analytic += (double) gv[i] * v[i];
            }
            // directional derivative along v by a central difference of the summed logits
            // (steps of 1e-2 and more cross the heads' LeakyReLU kinks; 3e-3 and 1e-3 agree with each other)
            assertThat(Math.abs(analytic)).isGreaterThan(1e-2);
            for (double h : new double[] {3e-3, 1e-3}) {
                double plus = sum(d.forward(ModuleInputs.of(shift(x, v, h), null)));
                double minus = sum(d.forward(ModuleInputs.of(shift(x, v, -h), null)));
                double numeric = (plus - minus) / (2 * h);
                System.out.printf("DINOv2 discriminator: directional input derivative analytic %.6f, central"
                        + " difference (h %.0e) %.6f%n", analytic, h, numeric);
                assertThat(Math.abs(analytic - numeric)).isLessThan(2e-3 * Math.abs(analytic));
            }
        }
    }

    private static Tensor shift(float[] x, float[] v, double h) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = (float) (x[i] + h * v[i]);
        }
        return Tensor.wrap(y, 2, 3, 40, 40);
    }

    private static double sum(Tensor t) {
        double s = 0;
        for (float f : t.toArray()) {
            s += f;
        }
        return s;
    }

    @Test
    void shortDistillationWithDinoV2BehindTheDecoderKeepsEveryLossFiniteAndTheBackboneFrozen() {
        DistillationConfig cfg = GanDistillationTest.config(DiscriminatorKind.VFM);
        OnnxModel teacherGraph = TinyModels.flow(1);
        int batch = GanDistillationTest.BATCH;
        try (TfWorkspace ws = TfWorkspace.create();
             TfModule teacher = TinyModels.denoiser(teacherGraph, "teacher", ws, batch, null);
             TfModule g = TinyModels.denoiser(teacherGraph, "generator", ws, batch, cfg.generatorOptimizer());
             TfModule f = TinyModels.denoiser(teacherGraph, "fake_score", ws, batch, cfg.fakeScoreOptimizer());
             TfModule decoder = TinyModels.decoder(ws, batch)) {
            // the decoder's 32x32 images, resized to DINOv2's 42x42 in the discriminator's preprocessing
            try (Discriminator d = Discriminator.forConfig(cfg, backbone(Preprocessing.imagenet()), null, null)
                    .orElseThrow().workspace(ws).inputShape(batch, 3, 32, 32).conditionedLike(g)
                    .heads(HeadSpec.defaults().withWidth(16).withLayers(1, 1)
                            .withTextConditioning(TinyModels.POOLED, 8)).build()) {
                Tensor probe = decoder.forward(ModuleInputs.of(TinyModels.dataset(3).batch(0, batch).realSamples(),
                        null));
                Map<String, Tensor> features = d.features(ModuleInputs.of(probe, TinyModels.conditioning(1, batch)));
                Map<String, Tensor> heads = d.parameters().snapshot();
                Distiller distiller = Distiller.builder().config(cfg).teacher(new ModuleGenerator(teacher,
                        new LatentFormat(4, 4, 2))).generator(g).fakeScore(f).discriminator(d).decoder(decoder)
                        .augmentation(DiffAugment.standard(), true).dataset(TinyModels.dataset(3)).build();
                List<IterationMetrics> metrics = GanDistillationTest.run(distiller);
                System.out.printf("distillation with the DINOv2 discriminator: %s, last losses %s%n",
                        GanDistillationTest.timing(metrics), metrics.get(metrics.size() - 1).losses());
                GanDistillationTest.assertFinite(metrics);
                assertThat(d.parameters().snapshot()).isNotEqualTo(heads);
                // the frozen backbone computes the same features after training
                assertThat(d.features(ModuleInputs.of(probe, TinyModels.conditioning(1, batch)))).isEqualTo(features);
            }
        }
    }
}
