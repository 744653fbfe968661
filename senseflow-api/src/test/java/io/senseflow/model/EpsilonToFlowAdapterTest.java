package io.senseflow.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.schedule.AnchorPreset;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** docs/algorithm.md §1: an epsilon model used as a flow velocity model. */
class EpsilonToFlowAdapterTest {
    private static final DdpmSchedule DDPM = DdpmSchedule.stableDiffusion();
    private static final Conditioning NONE = Conditioning.of(Tensor.zeros(1, 1, 1), null);

    /** The exact epsilon predictor for data concentrated at c: eps = (x_t - a c) / b. */
    private static EpsilonModel pointMass(float c) {
        return new EpsilonModel() {
            @Override
            public Tensor predictEpsilon(Tensor xt, float[] t, Conditioning cond) {
                double[] ab = DDPM.scalesAt(t[0]);
                return xt.map(v -> (float) ((v - ab[0] * c) / ab[1]));
            }

            @Override
            public LatentFormat latentFormat() {
                return new LatentFormat(1, 8, 1);
            }
        };
    }

    @Test
    void wrappedPerfectEpsilonModelGivesTheExactFlowVelocity() {
        float c = 0.7f;
        EpsilonToFlowAdapter g = new EpsilonToFlowAdapter(pointMass(c), DDPM);
        for (double s : AnchorPreset.SDXL.anchors()) {
            // flow state for eps = 1.3: x_s = (1 - s) c + s eps; the flow velocity of a point mass is (x_s - c) / s
            float xs = (float) ((1 - s) * c + s * 1.3);
            Tensor v = g.predict(Tensor.vector(xs).reshape(1, 1, 1, 1), new float[] {(float) s}, NONE);
            assertThat(v.get(0)).as("s=%f", s).isCloseTo((float) ((xs - c) / s), within(2e-5f));
            assertThat(v.get(0)).isCloseTo(1.3f - c, within(2e-5f));
        }
    }

    @Test
    void pureNoiseStateIsScaledByOneOverAPlusB() {
        EpsilonToFlowAdapter g = new EpsilonToFlowAdapter(pointMass(0), DDPM);
        Tensor x = g.pureNoiseState(Tensor.vector(1f), AnchorPreset.SDXL.anchors()[0]);
        assertThat(x.get(0)).isCloseTo((float) (1 / 1.065932), within(1e-6f));
        assertThat(x.get(0)).isCloseTo(0.938f, within(5e-4f));
    }

    @Test
    void backwardCoefficientsMatchFiniteDifferences() {
        double s = AnchorPreset.SDXL.anchors()[2];
        EpsilonToFlowAdapter.Coefficients k = new EpsilonToFlowAdapter(pointMass(0), DDPM).coefficients(s);
        assertThat(k.timestep()).isEqualTo(499.0);
        // v(eps_hat, x_s) = (x_t - (x_t - b eps)/a ...) computed directly from the definition
        double a = k.a();
        double b = k.b();
        java.util.function.DoubleBinaryOperator v = (eps, xs) -> {
            double xt = (a + b) * xs;
            double x0 = (xt - b * eps) / a;
            return eps - x0;
        };
        double h = 1e-6;
        double dEps = (v.applyAsDouble(0.3 + h, 0.2) - v.applyAsDouble(0.3 - h, 0.2)) / (2 * h);
        double dX = (v.applyAsDouble(0.3, 0.2 + h) - v.applyAsDouble(0.3, 0.2 - h)) / (2 * h);
        assertThat(dEps).isCloseTo(k.velocityGain(), within(1e-6));
        assertThat(dX).isCloseTo(-k.velocityGain(), within(1e-6));
    }
}
