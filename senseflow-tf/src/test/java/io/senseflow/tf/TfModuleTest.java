package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.Upstream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The TensorFlow module against the reference MLP (same architecture as an ONNX graph, same weights): forward,
 * every upstream form and gradient mode, accumulation, frozen modules, determinism.
 */
class TfModuleTest {
    static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 32, 2);
    static final int B = 16;
    static Mlp ref;
    static TfModule tf;

    @BeforeAll
    static void build() {
        ref = new Mlp(SPEC, 7, AdamWConfig.constant(1e-3));
        tf = MlpGraph.module(SPEC, ref.parameters().snapshot(), AdamWConfig.constant(1e-3), null, "g");
    }

    @AfterAll
    static void close() {
        tf.close();
        ref.close();
    }

    static ModuleInputs inputs(long seed, int batch) {
        RandomStream r = new RandomStream(seed, 1, 0);
        float[] x = new float[batch * 2];
        float[] s = new float[batch];
        float[] c = new float[batch * 8];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextUniform(-2, 2);
        }
        for (int i = 0; i < batch; i++) {
            s[i] = (float) r.nextUniform();
        }
        for (int i = 0; i < c.length; i++) {
            c[i] = r.nextUniform() < 0.5 ? 0f : 1f;
        }
        Tensor pooled = Tensor.wrap(c, batch, 8);
        return new ModuleInputs(Map.of(ModuleInputs.X, Tensor.wrap(x, batch, 2, 1, 1), ModuleInputs.SIGMA,
                Tensor.wrap(s, batch), ModuleInputs.POOLED, pooled, ModuleInputs.TOKENS, pooled.reshape(batch, 1, 8)));
    }

    static Tensor random(long seed, int... shape) {
        RandomStream r = new RandomStream(seed, 2, 0);
        Tensor z = Tensor.zeros(shape);
        float[] v = new float[z.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextUniform(-1, 1);
        }
        return Tensor.wrap(v, shape);
    }

    static float[] weights(int batch) {
        float[] w = new float[batch];
        for (int i = 0; i < batch; i++) {
            w[i] = 0.25f + i / (float) batch;
        }
        return w;
    }

    static double relDiff(Tensor a, Tensor b) {
        double scale = 0;
        for (int i = 0; i < b.size(); i++) {
            scale = Math.max(scale, Math.abs(b.get(i)));
        }
        return MlpGraph.maxDiff(a, b) / Math.max(scale, 1e-12);
    }

    @Test
    void forwardAgreesWithTheReference() {
        ModuleInputs in = inputs(1, B);
        Tensor want = ref.forward(in);
        Tensor got = tf.forward(in);
        assertThat(got.shape()).containsExactly(B, 2, 1, 1);
        double d = MlpGraph.maxDiff(got, want);
        System.out.printf("forward max |tf - ref| = %.3g%n", d);
        assertThat(d).isLessThan(2e-6);
    }

    @Test
    void backwardAgreesForEveryUpstreamFormInModeBoth() {
        ModuleInputs in = inputs(2, B);
        Map<String, Upstream> forms = new LinkedHashMap<>();
        forms.put("explicit", Upstream.explicit(random(3, B, 2, 1, 1)));
        forms.put("linear", Upstream.linear(-0.7, weights(B)));
        forms.put("mse", Upstream.mse(random(4, B, 2, 1, 1), weights(B)));
        forms.put("mse unweighted", Upstream.mse(random(5, B, 2, 1, 1), null));
        forms.put("hinge real", Upstream.hinge(1, weights(B)));
        forms.put("hinge fake", Upstream.hinge(-1, null));
        for (Map.Entry<String, Upstream> e : forms.entrySet()) {
            String form = e.getKey();
            ref.optimizer().zeroGradients();
            tf.optimizer().zeroGradients();
            BackwardResult want = ref.backward(in, e.getValue(), GradientMode.BOTH);
            BackwardResult got = tf.backward(in, e.getValue(), GradientMode.BOTH);
            if (Double.isNaN(want.loss())) {
                assertThat(got.loss()).as(form).isNaN();
            } else {
                assertThat(got.loss()).as(form + " loss").isCloseTo(want.loss(), org.assertj.core.data.Offset.offset(
                        1e-6 * Math.max(1, Math.abs(want.loss()))));
            }
            assertThat(MlpGraph.maxDiff(got.output(), want.output())).as(form + " output").isLessThan(2e-6);
            assertThat(got.inputGradients().keySet()).as(form).containsExactlyInAnyOrder(ModuleInputs.X, ModuleInputs.POOLED);
            for (String k : List.of(ModuleInputs.X, ModuleInputs.POOLED)) {
                assertThat(got.inputGradient(k).shape()).containsExactly(in.get(k).shape());
                assertThat(relDiff(got.inputGradient(k), want.inputGradient(k))).as(form + " d" + k).isLessThan(1e-5);
            }
            double worst = 0;
            for (ParameterSpec p : ref.parameters().specs()) {
                double d = relDiff(tf.optimizer().gradient(p.name()), ref.optimizer().gradient(p.name()));
                worst = Math.max(worst, d);
                assertThat(d).as(form + " d" + p.name()).isLessThan(1e-5);
            }
            assertThat(tf.optimizer().gradientNorm()).as(form + " norm")
                    .isCloseTo(ref.optimizer().gradientNorm(), org.assertj.core.data.Percentage.withPercentage(1e-3));
            System.out.printf("%-15s loss %.9g vs %.9g, worst relative parameter-gradient difference %.3g%n", form,
                    got.loss(), want.loss(), worst);
        }
    }

    @Test
    void inputsModeLeavesAccumulatedGradientsExactlyUnchanged() {
        tf.optimizer().zeroGradients();
        tf.backward(inputs(6, B), Upstream.mse(random(7, B, 2, 1, 1), null), GradientMode.PARAMETERS);
        Map<String, Tensor> before = gradients(tf);
        BackwardResult inputsOnly = tf.backward(inputs(8, B), Upstream.hinge(-1, weights(B)), GradientMode.INPUTS);
        assertThat(gradients(tf)).isEqualTo(before);
        BackwardResult both = tf.backward(inputs(8, B), Upstream.hinge(-1, weights(B)), GradientMode.BOTH);
        assertThat(inputsOnly.inputGradient(ModuleInputs.X).toArray()).containsExactly(
                both.inputGradient(ModuleInputs.X).toArray());
        assertThat(gradients(tf)).isNotEqualTo(before);
        BackwardResult paramsOnly = tf.backward(inputs(8, B), Upstream.linear(1, null), GradientMode.PARAMETERS);
        assertThat(paramsOnly.inputGradients()).isEmpty();
    }

    @Test
    void gradientsAccumulateOverBackwardCalls() {
        Upstream up1 = Upstream.mse(random(9, B, 2, 1, 1), null);
        Upstream up2 = Upstream.explicit(random(10, B, 2, 1, 1));
        tf.optimizer().zeroGradients();
        tf.backward(inputs(11, B), up1, GradientMode.PARAMETERS);
        Map<String, Tensor> first = gradients(tf);
        tf.optimizer().zeroGradients();
        tf.backward(inputs(12, B), up2, GradientMode.PARAMETERS);
        Map<String, Tensor> second = gradients(tf);
        tf.backward(inputs(11, B), up1, GradientMode.PARAMETERS);
        for (Map.Entry<String, Tensor> e : gradients(tf).entrySet()) {
            float[] a = first.get(e.getKey()).toArray();
            float[] b = second.get(e.getKey()).toArray();
            float[] sum = new float[a.length];
            for (int i = 0; i < a.length; i++) {
                sum[i] = b[i] + a[i];
            }
            assertThat(e.getValue().toArray()).as(e.getKey()).containsExactly(sum);
        }
        tf.optimizer().zeroGradients();
        assertThat(tf.optimizer().gradientNorm()).isZero();
    }

    static Map<String, Tensor> gradients(TfModule m) {
        Map<String, Tensor> g = new LinkedHashMap<>();
        for (ParameterSpec p : m.parameters().specs()) {
            g.put(p.name(), m.optimizer().gradient(p.name()));
        }
        return g;
    }

    @Test
    void aFrozenModuleOffersInputGradientsOnly() {
        try (TfModule frozen = MlpGraph.module(MlpSpec.discriminator(2, 8, 16, 1), new Mlp(
                MlpSpec.discriminator(2, 8, 16, 1), 3, null).parameters().snapshot(), null, null, "d")) {
            assertThat(frozen.trainable()).isFalse();
            ModuleInputs in = inputs(13, 4);
            assertThatThrownBy(() -> frozen.backward(in, Upstream.hinge(1, null), GradientMode.PARAMETERS))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("frozen");
            BackwardResult r = frozen.backward(in, Upstream.hinge(1, null), GradientMode.INPUTS);
            assertThat(r.inputGradient(ModuleInputs.X).shape()).containsExactly(4, 2, 1, 1);
            assertThat(r.output().shape()).containsExactly(4, 1);
        }
    }

    @Test
    void sameInputsGiveTheSameBitsAcrossCallsAndWorkspaces() {
        ModuleInputs in = inputs(14, B);
        Upstream up = Upstream.mse(random(15, B, 2, 1, 1), weights(B));
        try (TfModule a = MlpGraph.module(SPEC, ref.parameters().snapshot(), AdamWConfig.constant(1e-3), null, "a");
             TfModule b = MlpGraph.module(SPEC, ref.parameters().snapshot(), AdamWConfig.constant(1e-3), null, "b")) {
            a.optimizer().zeroGradients();
            BackwardResult r1 = a.backward(in, up, GradientMode.BOTH);
            Map<String, Tensor> g1 = gradients(a);
            a.optimizer().zeroGradients();
            BackwardResult r2 = a.backward(in, up, GradientMode.BOTH);
            b.optimizer().zeroGradients();
            BackwardResult r3 = b.backward(in, up, GradientMode.BOTH);
            for (BackwardResult r : List.of(r2, r3)) {
                assertThat(r.output().toArray()).containsExactly(r1.output().toArray());
                assertThat(r.loss()).isEqualTo(r1.loss());
                assertThat(r.inputGradient(ModuleInputs.X).toArray()).containsExactly(
                        r1.inputGradient(ModuleInputs.X).toArray());
            }
            assertThat(gradients(a)).isEqualTo(g1);
            assertThat(gradients(b)).isEqualTo(g1);
            a.optimizer().step();
            b.optimizer().step();
            assertThat(a.parameters().snapshot()).isEqualTo(b.parameters().snapshot());
        }
    }

    @Test
    void badInputsAreRefusedWithTheModuleAndInputNamed() {
        ModuleInputs wrong = inputs(16, 3).with(ModuleInputs.X, Tensor.zeros(3, 5));
        assertThatThrownBy(() -> tf.forward(wrong)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("module g input x");
        assertThatThrownBy(() -> tf.backward(inputs(16, 3), Upstream.linear(1, new float[2]), GradientMode.BOTH))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("upstream weights");
    }
}
