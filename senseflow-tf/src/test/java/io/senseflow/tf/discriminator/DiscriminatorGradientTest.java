package io.senseflow.tf.discriminator;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.OptimizerState;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.Upstream;
import io.senseflow.train.UpstreamLoss;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Gradients of the VFM discriminator against finite differences, the exactness of the input-only pass, the
 * multi-head averaging of the in-graph forms, and spectral normalisation's state. One discriminator with three heads
 * of different grid sizes (the raw image, the patch embedding, a block output) and text-conditioned heads.
 */
class DiscriminatorGradientTest {
    static final int POOLED = 5;
    static Discriminator d;

    @BeforeAll
    static void build() {
        Backbone backbone = Backbone.builder(TinyVit.build(16, 4, 8, 2, 2, 0, 11))
                .taps(List.of(Tap.named("pixel_values"), Tap.patchEmbedding(), Tap.afterBlock(1)))
                .preprocessing(Preprocessing.imagenet().withSize(16, 16)).build();
        d = Discriminator.vfm(backbone).inputShape(2, 3, 8, 8).seed(5)
                .heads(HeadSpec.defaults().withWidth(4).withLayers(1, 1).withTextConditioning(POOLED, 3))
                .optimizer(AdamWConfig.constant(1e-2)).build();
    }

    @AfterAll
    static void close() {
        d.close();
    }

    static ModuleInputs inputs(long seed, int batch) {
        Tensor x = GaussianNoise.sample(seed, 0, 1, batch, 3, 8, 8).map(v -> (float) Math.tanh(v));
        Tensor pooled = GaussianNoise.sample(seed, 0, 2, batch, POOLED);
        return new ModuleInputs(Map.of(ModuleInputs.X, x, ModuleInputs.POOLED, pooled));
    }

    static double dot(Tensor a, Tensor b) {
        double s = 0;
        for (int i = 0; i < a.size(); i++) {
            s += (double) a.get(i) * b.get(i);
        }
        return s;
    }

    @Test
    void gridsDifferPerHead() {
        assertThat(d.logitGrids()).satisfiesExactly(g -> assertThat(g).containsExactly(8, 8),
                g -> assertThat(g).containsExactly(2, 2), g -> assertThat(g).containsExactly(2, 2));
        assertThat(d.forward(inputs(1, 2)).shape()).containsExactly(2, 72);
    }

    @Test
    void headGradientsMatchFiniteDifferences() {
        ModuleInputs in = inputs(3, 2);
        Tensor g = GaussianNoise.sample(9, 0, 3, 2, 72);
        d.optimizer().zeroGradients();
        d.backward(in, Upstream.explicit(g), GradientMode.PARAMETERS);
        RandomStream pick = new RandomStream(4, 0, 0);
        double worstRel = 0;
        int checked = 0;
        for (ParameterSpec p : d.parameters().specs()) {
            Tensor analytic = d.optimizer().gradient(p.name());
            Tensor value = d.parameters().read(p.name());
            double scale = analytic.maxAbs();
            assertThat(scale).as(p.name()).isGreaterThan(0);
            for (int k = 0; k < 3; k++) {
                int i = pick.nextInt(value.size());
                float h = 2e-3f;
                float[] plus = value.toArray();
                plus[i] += h;
                d.parameters().write(p.name(), Tensor.wrap(plus, value.shape()));
                double lp = dot(g, d.forward(in));
                float[] minus = value.toArray();
                minus[i] -= h;
                d.parameters().write(p.name(), Tensor.wrap(minus, value.shape()));
                double lm = dot(g, d.forward(in));
                d.parameters().write(p.name(), value);
                double fd = (lp - lm) / (2 * h);
                double err = Math.abs(fd - analytic.get(i)) / scale;
                worstRel = Math.max(worstRel, err);
                assertThat(err).as(p.name() + "[" + i + "]: fd " + fd + " vs " + analytic.get(i)).isLessThan(2e-2);
                checked++;
            }
        }
        System.out.printf("head gradients vs central differences: %d entries, worst |fd - analytic| / max|analytic|"
                + " = %.2e%n", checked, worstRel);
    }

    @Test
    void inputGradientMatchesFiniteDifferencesThroughBackboneAndPreprocessing() {
        ModuleInputs in = inputs(5, 1);
        Tensor g = GaussianNoise.sample(10, 0, 3, 1, 72);
        d.optimizer().zeroGradients();
        Tensor dx = d.backward(in, Upstream.explicit(g), GradientMode.INPUTS).inputGradient(ModuleInputs.X);
        double scale = dx.maxAbs();
        RandomStream pick = new RandomStream(6, 0, 0);
        double worst = 0;
        Tensor x = in.x();
        for (int k = 0; k < 16; k++) {
            int i = pick.nextInt(x.size());
            float h = 2e-3f;
            float[] p = x.toArray();
            p[i] += h;
            double lp = dot(g, d.forward(in.with(ModuleInputs.X, Tensor.wrap(p, x.shape()))));
            float[] m = x.toArray();
            m[i] -= h;
            double lm = dot(g, d.forward(in.with(ModuleInputs.X, Tensor.wrap(m, x.shape()))));
            double fd = (lp - lm) / (2 * h);
            double err = Math.abs(fd - dx.get(i)) / scale;
            worst = Math.max(worst, err);
            assertThat(err).as("x[" + i + "]: fd " + fd + " vs " + dx.get(i)).isLessThan(2e-2);
        }
        System.out.printf("input gradient vs central differences: 16 pixels, worst |fd - analytic| / max|analytic|"
                + " = %.2e%n", worst);
    }

    @Test
    void theInputOnlyPassLeavesAccumulatedGradientsExactlyUnchanged() {
        ModuleInputs real = inputs(7, 2);
        ModuleInputs fake = inputs(8, 2);
        float[] omega = {0.25f, 0.81f};
        d.optimizer().zeroGradients();
        d.backward(real, Upstream.hinge(1, omega), GradientMode.PARAMETERS);
        Map<String, Tensor> before = gradients();
        assertThat(d.optimizer().gradientNorm()).isGreaterThan(0);
        BackwardResult r = d.backward(fake, Upstream.linear(-2.0, omega), GradientMode.INPUTS);
        assertThat(r.inputGradient(ModuleInputs.X).maxAbs()).isGreaterThan(0f);
        assertThat(gradients()).isEqualTo(before);
        // the same pass in BOTH mode does accumulate
        d.backward(fake, Upstream.linear(-2.0, omega), GradientMode.BOTH);
        assertThat(gradients()).isNotEqualTo(before);
    }

    static Map<String, Tensor> gradients() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (ParameterSpec p : d.parameters().specs()) {
            m.put(p.name(), d.optimizer().gradient(p.name()));
        }
        return m;
    }

    @Test
    void inGraphFormsAverageEachHeadsGridThenTheHeads() {
        ModuleInputs in = inputs(12, 2);
        float[] w = {0.3f, 1.7f};
        int[] sizes = {64, 4, 4};
        Tensor y = d.forward(in);
        Tensor target = GaussianNoise.sample(13, 0, 3, 2, 72);
        for (Upstream u : List.of(Upstream.hinge(1, w), Upstream.hinge(-1, w), Upstream.linear(-0.7, w),
                Upstream.mse(target, w))) {
            d.optimizer().zeroGradients();
            BackwardResult inGraph = d.backward(in, u, GradientMode.BOTH);
            Map<String, Tensor> gIn = gradients();
            // the reference on the logits of the same run (a run that also computes gradients may round the
            // forward differently in the last bit)
            UpstreamLoss.Evaluated ref = MultiHeadLoss.evaluate(u, inGraph.output(), sizes);
            assertThat(io.senseflow.tf.testing.MlpGraph.maxDiff(inGraph.output(), y)).isLessThan(1e-5);
            d.optimizer().zeroGradients();
            BackwardResult explicit = d.backward(in, Upstream.explicit(ref.gradient()), GradientMode.BOTH);
            assertThat(inGraph.loss()).as(u.toString()).isCloseTo(ref.loss(), org.assertj.core.data.Offset.offset(
                    1e-12 * (1 + Math.abs(ref.loss()))));
            assertThat(gradients()).as(u.toString()).isEqualTo(gIn);
            assertThat(explicit.inputGradient(ModuleInputs.X)).isEqualTo(inGraph.inputGradient(ModuleInputs.X));
        }
        // the averaging: a unit linear loss on head 0 alone weighs 1 / (3 * 64) per element and sample / batch
        double[] c = MultiHeadLoss.columnWeights(sizes);
        assertThat(c[0]).isEqualTo(1.0 / (3 * 64));
        assertThat(c[64]).isEqualTo(1.0 / (3 * 4));
        double mean = 0;
        for (int b = 0; b < 2; b++) {
            for (int h = 0; h < 3; h++) {
                int from = h == 0 ? 0 : h == 1 ? 64 : 68;
                double s = 0;
                for (int j = from; j < from + sizes[h]; j++) {
                    s += y.get(b * 72 + j);
                }
                mean += w[b] * s / sizes[h] / 3 / 2;
            }
        }
        assertThat(MultiHeadLoss.evaluate(Upstream.linear(1, w), y, sizes).loss()).isCloseTo(mean,
                org.assertj.core.data.Offset.offset(1e-9));
    }

    @Test
    void spectralNormsAreTheKernelsLargestSingularValuesAndTheirVectorsResumeExactly() {
        Map<String, Double> sigmas = d.spectralNorms();
        assertThat(sigmas).hasSize(6);
        for (Map.Entry<String, Double> e : sigmas.entrySet()) {
            Tensor w = d.parameters().read(e.getKey());
            assertThat(e.getValue()).as(e.getKey()).isCloseTo(largestSingularValue(w),
                    org.assertj.core.data.Percentage.withPercentage(1));
        }
        ModuleInputs real = inputs(20, 2);
        ModuleInputs fake = inputs(21, 2);
        Map<String, Tensor> params = d.parameters().snapshot();
        OptimizerState state = d.optimizer().state();
        assertThat(state.slots()).containsKey("sn_u/heads.0.convs.0.weight").containsKey("m/heads.0.convs.0.weight");
        Map<String, Tensor> first = train(real, fake, 3);
        OptimizerState after = d.optimizer().state();
        assertThat(after.slots().get("sn_u/heads.0.convs.0.weight"))
                .isNotEqualTo(state.slots().get("sn_u/heads.0.convs.0.weight"));
        params.forEach(d.parameters()::write);
        d.optimizer().restore(state);
        Map<String, Tensor> second = train(real, fake, 3);
        assertThat(second).isEqualTo(first);
        assertThat(d.optimizer().state().slots()).isEqualTo(after.slots());
        assertThat(d.optimizer().stepCount()).isEqualTo(after.step());
        // leave the shared module as it was for the other tests
        params.forEach(d.parameters()::write);
        d.optimizer().restore(state);
    }

    static Map<String, Tensor> train(ModuleInputs real, ModuleInputs fake, int steps) {
        for (int i = 0; i < steps; i++) {
            d.optimizer().zeroGradients();
            d.backward(real, Upstream.hinge(1, null), GradientMode.PARAMETERS);
            d.backward(fake, Upstream.hinge(-1, null), GradientMode.PARAMETERS);
            d.optimizer().clipGradientNorm(1.0);
            d.optimizer().step();
        }
        return d.parameters().snapshot();
    }

    /** Power iteration in double on the kernel as a matrix {@code [out, in kh kw]}. */
    static double largestSingularValue(Tensor w) {
        int rows = w.shape()[0];
        int cols = w.size() / rows;
        double[] v = new double[cols];
        java.util.Arrays.fill(v, 1);
        double s = 0;
        for (int it = 0; it < 2000; it++) {
            double[] u = new double[rows];
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    u[r] += w.get(r * cols + c) * v[c];
                }
            }
            double[] nv = new double[cols];
            for (int c = 0; c < cols; c++) {
                for (int r = 0; r < rows; r++) {
                    nv[c] += w.get(r * cols + c) * u[r];
                }
            }
            double n = 0;
            for (double a : nv) {
                n += a * a;
            }
            n = Math.sqrt(n);
            for (int c = 0; c < cols; c++) {
                nv[c] /= n;
            }
            v = nv;
            s = Math.sqrt(n);
        }
        return s;
    }
}
