package io.senseflow.reference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.schedule.AnchorPreset;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.EpsilonFlowModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import org.junit.jupiter.api.Test;

/** The epsilon-to-flow map's backward is exact: checked against finite differences through a reference MLP. */
class EpsilonFlowModuleTest {

    @Test
    void inputAndParameterGradientsMatchFiniteDifferences() {
        Mlp eps = new Mlp(MlpSpec.denoiser(2, 0, 8, 1), 4, AdamWConfig.constant(1e-3));
        EpsilonFlowModule v = new EpsilonFlowModule(eps, DdpmSchedule.stableDiffusion());
        float[] s = {(float) AnchorPreset.SDXL.anchors()[0], (float) AnchorPreset.SDXL.anchors()[3]};
        Tensor x = GaussianNoise.sample(1, 0, 0, 2, 2, 1, 1);
        Conditioning none = Conditioning.of(Tensor.zeros(2, 1, 1), null);
        ModuleInputs in = ModuleInputs.denoiser(x, s, none);
        Tensor target = GaussianNoise.sample(2, 0, 0, 2, 2, 1, 1);
        eps.optimizer().zeroGradients();
        BackwardResult r = v.backward(in, Upstream.mse(target, null), GradientMode.BOTH);
        float[] xv = x.toArray();
        float[] g = r.inputGradient(ModuleInputs.X).toArray();
        double h = 1e-3;
        for (int i = 0; i < xv.length; i++) {
            float orig = xv[i];
            xv[i] = (float) (orig + h);
            double up = mse(v.forward(in.with("x", Tensor.of(xv, x.shape()))), target);
            xv[i] = (float) (orig - h);
            double down = mse(v.forward(in.with("x", Tensor.of(xv, x.shape()))), target);
            xv[i] = orig;
            assertThat(g[i]).as("dL/dx[%d]", i).isCloseTo((float) ((up - down) / (2 * h)), within(2e-3f));
        }
        float[] w = eps.parameters().read("l1.bias").toArray();
        float gb = eps.optimizer().gradient("l1.bias").get(0);
        float orig = w[0];
        w[0] = (float) (orig + h);
        eps.parameters().write("l1.bias", Tensor.of(w, 2));
        double up = mse(v.forward(in), target);
        w[0] = (float) (orig - h);
        eps.parameters().write("l1.bias", Tensor.of(w, 2));
        double down = mse(v.forward(in), target);
        assertThat(gb).isCloseTo((float) ((up - down) / (2 * h)), within(2e-3f));
        // v = ((a + b) / a) (eps_hat - x_s)
        assertThat(r.loss()).isCloseTo(mse(r.output(), target), within(1e-9));
    }

    private static double mse(Tensor a, Tensor b) {
        return a.sub(b).sumOfSquares() / a.size();
    }
}
