package io.senseflow.tf.discriminator;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A few hundred hinge steps on a frozen random ViT separate two image distributions (stripes across vs. stripes
 * down, random frequency, phase, colour and noise); the backbone's outputs stay bit-identical and runs repeat bit
 * for bit.
 */
class DiscriminatorTrainingTest {
    static final int STEPS = 300;
    static final int BATCH = 8;

    /** Stripes across ({@code across = true}) or down, values in [-1, 1], 24 x 24. */
    static Tensor stripes(boolean across, int batch, RandomStream r) {
        int n = 24;
        float[] v = new float[batch * 3 * n * n];
        for (int b = 0; b < batch; b++) {
            double freq = r.nextUniform(0.25, 0.9);
            double phase = r.nextUniform(0, 2 * Math.PI);
            double[] colour = {r.nextUniform(0.3, 1), r.nextUniform(0.3, 1), r.nextUniform(0.3, 1)};
            for (int c = 0; c < 3; c++) {
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < n; j++) {
                        double s = Math.sin(freq * (across ? i : j) + phase);
                        v[((b * 3 + c) * n + i) * n + j] = (float) Math.max(-1, Math.min(1,
                                colour[c] * s + 0.3 * r.nextGaussian()));
                    }
                }
            }
        }
        return Tensor.wrap(v, batch, 3, n, n);
    }

    static Discriminator build(OnnxModel vit, long seed) {
        Backbone backbone = Backbone.builder(vit).taps(Tap.afterBlocks(0, 1))
                .preprocessing(Preprocessing.imagenet().withSize(16, 16)).build();
        return Discriminator.vfm(backbone).inputShape(BATCH, 3, 24, 24).seed(seed)
                .heads(HeadSpec.defaults().withWidth(16)).optimizer(AdamWConfig.constant(1e-3)).build();
    }

    static void step(Discriminator d, Tensor real, Tensor fake) {
        d.optimizer().zeroGradients();
        d.backward(ModuleInputs.of(real, null), Upstream.hinge(1, null), GradientMode.PARAMETERS);
        d.backward(ModuleInputs.of(fake, null), Upstream.hinge(-1, null), GradientMode.PARAMETERS);
        d.optimizer().clipGradientNorm(1.0);
        d.optimizer().step();
    }

    static double accuracy(Discriminator d, Tensor real, Tensor fake) {
        int right = 0;
        for (Tensor t : List.of(real, fake)) {
            for (int start = 0; start < t.batch(); start += BATCH) {
                double[] score = d.forward(ModuleInputs.of(t.sliceBatch(start, start + BATCH), null)).meanPerSample();
                for (double s : score) {
                    right += (t == real) == (s > 0) ? 1 : 0;
                }
            }
        }
        return right / (double) (real.batch() + fake.batch());
    }

    @Test
    void hingeTrainingSeparatesTwoImageDistributionsAndLeavesTheBackboneUntouched() {
        OnnxModel vit = TinyVit.build(16, 4, 16, 2, 2, 1, 21);
        Tensor testReal = stripes(true, 64, new RandomStream(1, 1, 0));
        Tensor testFake = stripes(false, 64, new RandomStream(1, 2, 0));
        Tensor probe = testReal.sliceBatch(0, BATCH);
        try (Discriminator d = build(vit, 7)) {
            Map<String, Tensor> featuresBefore = d.features(ModuleInputs.of(probe, null));
            Map<String, Tensor> headsBefore = d.parameters().snapshot();
            double before = accuracy(d, testReal, testFake);
            long t0 = System.nanoTime();
            for (int s = 0; s < STEPS; s++) {
                step(d, stripes(true, BATCH, new RandomStream(2, 1, s)), stripes(false, BATCH, new RandomStream(2, 2, s)));
            }
            double ms = (System.nanoTime() - t0) / 1e6 / STEPS;
            double after = accuracy(d, testReal, testFake);
            System.out.printf("discriminator on a frozen random ViT, %d hinge steps (batch %d + %d, %.1f ms/step):"
                    + " held-out accuracy %.1f%% before, %.1f%% after (128 images)%n", STEPS, BATCH, BATCH, ms,
                    100 * before, 100 * after);
            assertThat(after).isGreaterThan(0.85);
            assertThat(after).isGreaterThan(before + 0.2);
            // frozen backbone: bit-identical features; trained heads: moved
            assertThat(d.features(ModuleInputs.of(probe, null))).isEqualTo(featuresBefore);
            assertThat(d.parameters().snapshot()).isNotEqualTo(headsBefore);
        }
    }

    @Test
    void twoDiscriminatorsBuiltAndTrainedAlikeAreBitIdentical() {
        OnnxModel vit = TinyVit.build(16, 4, 16, 2, 2, 1, 21);
        try (Discriminator a = build(vit, 7); Discriminator b = build(vit, 7); Discriminator c = build(vit, 8)) {
            assertThat(a.parameters().snapshot()).isEqualTo(b.parameters().snapshot());
            assertThat(a.parameters().snapshot()).isNotEqualTo(c.parameters().snapshot());
            for (int s = 0; s < 4; s++) {
                Tensor real = stripes(true, BATCH, new RandomStream(3, 1, s));
                Tensor fake = stripes(false, BATCH, new RandomStream(3, 2, s));
                step(a, real, fake);
                step(b, real, fake);
            }
            assertThat(a.parameters().snapshot()).isEqualTo(b.parameters().snapshot());
            assertThat(a.optimizer().state().slots()).isEqualTo(b.optimizer().state().slots());
        }
    }
}
