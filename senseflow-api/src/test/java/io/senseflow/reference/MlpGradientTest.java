package io.senseflow.reference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.Upstream;
import org.junit.jupiter.api.Test;

/** The reference MLP's hand-written backward against central finite differences (in double-checked float). */
class MlpGradientTest {

    private static ModuleInputs inputs() {
        Tensor x = GaussianNoise.sample(1, 0, 0, 3, 2, 1, 1);
        Tensor pooled = GaussianNoise.sample(2, 0, 0, 3, 4);
        return ModuleInputs.denoiser(x, new float[] {0.9f, 0.4f, 0.1f},
                Conditioning.of(pooled.reshape(3, 1, 4), pooled));
    }

    private static double loss(Mlp m, ModuleInputs in, Tensor target) {
        Tensor out = m.forward(in);
        double s = 0;
        for (int i = 0; i < out.size(); i++) {
            double d = out.get(i) - target.get(i);
            s += d * d;
        }
        return s / out.size();
    }

    @Test
    void parameterAndInputGradientsMatchFiniteDifferences() {
        Mlp m = new Mlp(MlpSpec.denoiser(2, 4, 8, 2), 3, AdamWConfig.constant(1e-3));
        ModuleInputs in = inputs();
        Tensor target = GaussianNoise.sample(4, 0, 0, 3, 2, 1, 1);
        m.optimizer().zeroGradients();
        BackwardResult r = m.backward(in, Upstream.mse(target, null), GradientMode.BOTH);
        assertThat(r.loss()).isCloseTo(loss(m, in, target), org.assertj.core.api.Assertions.within(1e-6));
        double h = 1e-2;
        int checked = 0;
        for (ParameterSpec p : m.parameters().specs()) {
            float[] values = m.parameters().read(p.name()).toArray();
            float[] grad = m.optimizer().gradient(p.name()).toArray();
            for (int i = 0; i < values.length; i += 3) {
                float orig = values[i];
                values[i] = (float) (orig + h);
                m.parameters().write(p.name(), Tensor.of(values, p.shape()));
                double up = loss(m, in, target);
                values[i] = (float) (orig - h);
                m.parameters().write(p.name(), Tensor.of(values, p.shape()));
                double down = loss(m, in, target);
                values[i] = orig;
                m.parameters().write(p.name(), Tensor.of(values, p.shape()));
                double fd = (up - down) / (2 * h);
                assertThat(grad[i]).as("%s[%d]", p.name(), i).isCloseTo((float) fd,
                        org.assertj.core.api.Assertions.within((float) (2e-3 * Math.max(1, Math.abs(fd)))));
                checked++;
            }
        }
        assertThat(checked).isGreaterThan(50);
        // input gradients: x and pooled
        for (String name : new String[] {ModuleInputs.X, ModuleInputs.POOLED}) {
            float[] v = in.get(name).toArray();
            float[] g = r.inputGradient(name).toArray();
            for (int i = 0; i < v.length; i++) {
                float orig = v[i];
                v[i] = (float) (orig + h);
                double up = loss(m, in.with(name, Tensor.of(v, in.get(name).shape())), target);
                v[i] = (float) (orig - h);
                double down = loss(m, in.with(name, Tensor.of(v, in.get(name).shape())), target);
                v[i] = orig;
                double fd = (up - down) / (2 * h);
                assertThat(g[i]).as("d/d%s[%d]", name, i).isCloseTo((float) fd,
                        org.assertj.core.api.Assertions.within((float) (2e-3 * Math.max(1, Math.abs(fd)))));
            }
        }
    }

    @Test
    void inputsModeLeavesParameterGradientsExactlyUnchanged() {
        Mlp d = new Mlp(MlpSpec.discriminator(2, 4, 8, 2), 5, AdamWConfig.constant(1e-3));
        ModuleInputs in = ModuleInputs.of(GaussianNoise.sample(1, 0, 0, 3, 2), Conditioning.of(Tensor.zeros(3, 1, 4), Tensor.zeros(3, 4)));
        d.optimizer().zeroGradients();
        d.backward(in, Upstream.hinge(1, null), GradientMode.PARAMETERS);
        Tensor before = d.optimizer().gradient("l0.weight");
        BackwardResult r = d.backward(in, Upstream.linear(-1, null), GradientMode.INPUTS);
        assertThat(d.optimizer().gradient("l0.weight")).isEqualTo(before);
        assertThat(r.inputGradient(ModuleInputs.X).maxAbs()).isGreaterThan(0f);
        assertThat(r.inputGradients()).containsKeys(ModuleInputs.X, ModuleInputs.POOLED);
        // PARAMETERS mode returns no input gradients
        assertThatThrownBy(() -> d.backward(in, Upstream.hinge(1, null), GradientMode.PARAMETERS).inputGradient("x"))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("INPUTS or BOTH");
    }

    @Test
    void gradientsAccumulateAcrossBackwardCalls() {
        Mlp m = new Mlp(MlpSpec.denoiser(2, 4, 8, 1), 7, AdamWConfig.constant(1e-3));
        ModuleInputs in = inputs();
        Tensor target = Tensor.zeros(3, 2, 1, 1);
        m.optimizer().zeroGradients();
        m.backward(in, Upstream.mse(target, null), GradientMode.PARAMETERS);
        Tensor once = m.optimizer().gradient("l1.weight");
        m.backward(in, Upstream.mse(target, null), GradientMode.PARAMETERS);
        assertThat(m.optimizer().gradient("l1.weight").toArray()).containsExactly(once.scale(2).toArray(),
                org.assertj.core.api.Assertions.within(1e-6f));
        m.optimizer().zeroGradients();
        assertThat(m.optimizer().gradientNorm()).isZero();
    }

    @Test
    void frozenModuleRefusesParameterGradients() {
        Mlp frozen = new Mlp(MlpSpec.discriminator(2, 0, 4, 1), 1, null);
        assertThat(frozen.trainable()).isFalse();
        ModuleInputs in = ModuleInputs.of(Tensor.zeros(1, 2), null);
        assertThatThrownBy(() -> frozen.backward(in, Upstream.linear(1, null), GradientMode.BOTH))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("frozen");
        assertThat(frozen.backward(in, Upstream.linear(1, null), GradientMode.INPUTS).inputGradient("x").size()).isEqualTo(2);
    }
}
