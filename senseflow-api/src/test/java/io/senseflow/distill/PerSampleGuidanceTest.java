package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.schedule.Shift;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ModuleInputs;
import org.junit.jupiter.api.Test;

/**
 * Per-sample (per-prompt) DMD guidance: a batch of two samples with the scales 4.5 and 2.0 gives the DMD gradient
 * that a double-precision Java computation of CFG with those scales gives, sample by sample; NaN entries are drawn
 * from the range exactly as without per-sample scales.
 */
class PerSampleGuidanceTest {
    static final int B = 2;
    static final int C = 3;
    static final int L = 5;
    static final int D = 4;

    /** A Java teacher whose velocity depends on the conditioning: {@code v = 0.7 x + 0.3 sigma + mean(tokens)}. */
    static final class LinearTeacher implements Generator {
        @Override
        public Tensor predict(Tensor x, float[] sigmas, Conditioning c) {
            int n = x.batch();
            int per = x.sampleSize();
            float[] xv = x.toArray();
            float[] tok = c.tokens().toArray();
            int tp = c.tokens().sampleSize();
            float[] out = new float[xv.length];
            for (int b = 0; b < n; b++) {
                double m = 0;
                for (int i = 0; i < tp; i++) {
                    m += tok[b * tp + i];
                }
                m /= tp;
                for (int i = 0; i < per; i++) {
                    out[b * per + i] = (float) (0.7 * xv[b * per + i] + 0.3 * sigmas[b] + m + 0.05 * i);
                }
            }
            return Tensor.wrap(out, x.shape());
        }

        @Override
        public Parameterization parameterization() {
            return Parameterization.VELOCITY;
        }

        @Override
        public LatentFormat latentFormat() {
            return new LatentFormat(C, 1, 1);
        }
    }

    static Conditioning cond(long seed) {
        return Conditioning.of(GaussianNoise.sample(seed, 0, 1, B, L, D), GaussianNoise.sample(seed, 0, 2, B, D));
    }

    GeneratorContext context(Mlp fake, float[] scales) {
        Tensor x = GaussianNoise.sample(3, 0, 4, B, C);
        Tensor vG = GaussianNoise.sample(3, 0, 5, B, C);
        return new GeneratorContext(7, 11, new double[] {1.0, 0.6}, new int[] {0, 1}, x, vG, cond(1), cond(2), null,
                new LinearTeacher(), null, fake, null, (k, v) -> { }).guidanceScales(scales);
    }

    @Test
    void twoPromptScalesGiveTheDmdGradientOfAJavaReference() {
        DistributionMatching dmd = new DistributionMatching(TimestepSampler.logitNormal(0, 1, Shift.none()),
                new TeacherGuidance.Cfg(3, 10));
        float[] scales = {4.5f, 2.0f};
        try (Mlp fake = new Mlp(MlpSpec.denoiser(C, D, 8, 1), 9, AdamWConfig.constant(1e-3))) {
            GeneratorContext ctx = context(fake, scales);
            ObjectiveTerm term = dmd.evaluate(ctx);

            // the reference: the same levels and noise (keyed by purpose), CFG with the given scales, in double
            double[] s = dmd.noiseLevels().sample(B, ctx.random("dmd.sigma"));
            float[] sf = new float[B];
            for (int b = 0; b < B; b++) {
                sf[b] = (float) s[b];
            }
            float[] x0 = ctx.x0().toArray();
            float[] eps = ctx.noise("dmd.noise").toArray();
            float[] xs = new float[B * C];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = (float) ((1 - sf[i / C]) * x0[i] + sf[i / C] * eps[i]);
            }
            Tensor xst = Tensor.wrap(xs, B, C);
            LinearTeacher t = new LinearTeacher();
            float[] vc = t.velocity(xst, sf, ctx.conditioning()).toArray();
            float[] vu = t.velocity(xst, sf, ctx.unconditional()).toArray();
            float[] vf = fake.forward(ModuleInputs.denoiser(xst, sf, ctx.conditioning())).toArray();
            double[] want = new double[B * C];
            for (int b = 0; b < B; b++) {
                double[] real = new double[C];
                double norm = 0;
                for (int i = 0; i < C; i++) {
                    int k = b * C + i;
                    double v = vu[k] + scales[b] * ((double) vc[k] - vu[k]);
                    real[i] = xs[k] - sf[b] * v;
                    norm += Math.abs(x0[k] - real[i]) / C;
                }
                for (int i = 0; i < C; i++) {
                    int k = b * C + i;
                    double fakeX0 = xs[k] - (double) sf[b] * vf[k];
                    double g = (fakeX0 - real[i]) / norm;
                    // dL/dv_G = -s_i dL/dx0_hat (s_i: the sample's anchor), dL/dx0_hat = g / numel
                    want[k] = -ctx.sigmas()[b] * g / (B * C);
                }
            }
            float[] got = term.gradient().toArray();
            double scale = 0;
            for (int k = 0; k < want.length; k++) {
                scale = Math.max(scale, Math.abs(want[k]));
            }
            assertThat(scale).isPositive();
            for (int k = 0; k < want.length; k++) {
                assertThat(Math.abs(got[k] - want[k])).as("element " + k).isLessThan(1e-5 * scale);
            }

            // the scales matter, per sample: swapping them changes both samples' gradients
            float[] swapped = dmd.evaluate(context(fake, new float[] {2.0f, 4.5f})).gradient().toArray();
            for (int b = 0; b < B; b++) {
                assertThat(swapped[b * C]).isNotEqualTo(got[b * C]);
            }
        }
    }

    @Test
    void nanEntriesAreDrawnAsWithoutScalesAndBadScalesAreRefused() {
        DistributionMatching dmd = new DistributionMatching(TimestepSampler.logitNormal(0, 1, Shift.none()),
                new TeacherGuidance.Cfg(3, 10));
        try (Mlp fake = new Mlp(MlpSpec.denoiser(C, D, 8, 1), 9, AdamWConfig.constant(1e-3))) {
            float[] drawn = dmd.evaluate(context(fake, null)).gradient().toArray();
            float[] nan = dmd.evaluate(context(fake, new float[] {Float.NaN, Float.NaN})).gradient().toArray();
            assertThat(nan).containsExactly(drawn);
        }
        Conditioning c = cond(1);
        assertThatThrownBy(() -> new DistillationBatch(java.util.List.of(), c, null, null, new float[] {1f}))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("batch guidance");
        assertThatThrownBy(() -> new DistillationBatch(java.util.List.of(), c, null, null, new float[] {1f, -2f}))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("guidance[1]");
        assertThatThrownBy(() -> new TeacherGuidance.None().velocity(new LinearTeacher(), GaussianNoise.sample(1, 0,
                1, B, C), new float[] {0.5f, 0.5f}, c, null, null, new float[] {2f, 3f}))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("guidance scales");
    }
}
