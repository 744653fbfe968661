package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.reference.ArrayParameterStore;
import io.senseflow.schedule.AnchorPreset;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.Upstream;
import io.senseflow.train.UpstreamLoss;
import org.junit.jupiter.api.Test;

/** Every vector of docs/algorithm.md §4. */
class ObjectiveVectorsTest {

    @Test
    void dmdVector() {
        Tensor hat = Tensor.of(new float[] {1, 2}, 1, 2);
        Tensor real = Tensor.of(new float[] {0.5f, 1}, 1, 2);
        Tensor fake = Tensor.of(new float[] {0.8f, 1.5f}, 1, 2);
        DistributionMatching.Result r = DistributionMatching.gradient(hat, real, fake);
        assertThat(r.loss()).isCloseTo(0.151111, within(1e-6));
        assertThat(r.gradient().toArray()).containsExactly(new float[] {0.2f, 0.333333f}, within(1e-6f));
        assertThat(r.nonFinite()).isZero();
    }

    @Test
    void dmdNormalisesPerSampleAndReplacesNonFiniteValues() {
        // sample 1 has x0_hat == x0_real: the normaliser is 0 -> 0/0 = NaN -> 0 and x/0 = Inf -> MAX_VALUE
        Tensor hat = Tensor.of(new float[] {1, 2, 3, 3}, 2, 2);
        Tensor real = Tensor.of(new float[] {0.5f, 1, 3, 3}, 2, 2);
        Tensor fake = Tensor.of(new float[] {0.8f, 1.5f, 3, 4}, 2, 2);
        DistributionMatching.Result r = DistributionMatching.gradient(hat, real, fake);
        assertThat(r.nonFinite()).isEqualTo(2);
        float[] g = r.gradient().toArray();
        assertThat(g[0]).isCloseTo(0.4f / 4, within(1e-7f));
        assertThat(g[2]).isZero();
        assertThat(g[3]).isEqualTo(Float.MAX_VALUE / 4);
    }

    @Test
    void isgPseudoHuberVector() {
        SegmentDistance.Evaluated e = SegmentDistance.pseudoHuber().evaluate(Tensor.vector(0.1f), Tensor.vector(0f));
        assertThat(e.loss()).isCloseTo(0.099005, within(1e-6));
        // derivative d / sqrt(d^2 + c^2) at d = 0.1
        assertThat(e.gradient().get(0)).isCloseTo((float) (0.1 / Math.sqrt(0.01 + 1e-6)), within(1e-6f));
        SegmentDistance.Evaluated l2 = new SegmentDistance.L2().evaluate(Tensor.vector(0.1f, 0.3f), Tensor.vector(0f, 0f));
        assertThat(l2.loss()).isCloseTo(0.05, within(1e-7));
        assertThat(l2.gradient().toArray()).containsExactly(new float[] {0.1f, 0.3f}, within(1e-7f));
    }

    @Test
    void ganOmegaPresets() {
        double[] sd35 = AnchorPreset.SD35.anchors();
        double[] flux = AnchorPreset.FLUX.anchors();
        double[] paper = {0, 0.01, 0.0625, 0.25};
        double[] sd35Released = {0.000009, 0.251333, 0.563624, 0.810864};
        double[] fluxReleased = {0, 0.009216, 0.058081, 0.238144};
        for (int i = 0; i < 4; i++) {
            assertThat(GanWeighting.paper().omega().at(sd35[i])).isCloseTo(paper[i], within(1e-6));
            assertThat(GanWeighting.sd35Released().omega().at(sd35[i])).isCloseTo(sd35Released[i], within(5e-7));
            assertThat(GanWeighting.fluxReleased().omega().at(flux[i])).isCloseTo(fluxReleased[i], within(5e-7));
        }
        assertThat(GanWeighting.sd35Released().weight()).isEqualTo(0.1);
        assertThat(GanWeighting.fluxReleased().weight()).isEqualTo(2.0);
    }

    @Test
    void idaVector() {
        ArrayParameterStore fake = new ArrayParameterStore();
        fake.add("w", new float[] {1, 0}, 2);
        ArrayParameterStore gen = new ArrayParameterStore();
        gen.add("w", new float[] {0, 1}, 2);
        fake.blendFrom(gen, 0.97);
        assertThat(fake.read("w").toArray()).containsExactly(0.97f, 0.03f);
        assertThat(gen.read("w").toArray()).containsExactly(0f, 1f);
    }

    @Test
    void fakeScoreAndHingeLossesAndTheirGradients() {
        // §4.7: L_F = mean((F - (eps - x0))^2), gradient 2 (F - target) / N
        Tensor out = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
        Tensor target = Tensor.of(new float[] {0, 2, 1, 4}, 2, 2);
        UpstreamLoss.Evaluated mse = UpstreamLoss.evaluate(Upstream.mse(target, null), out);
        assertThat(mse.loss()).isCloseTo(1.25, within(1e-9));
        assertThat(mse.gradient().toArray()).containsExactly(0.5f, 0f, 1f, 0f);
        // §4.8: mean(relu(1 - D(real))) and mean(relu(1 + D(fake))), each weighted per sample by omega
        Tensor logits = Tensor.of(new float[] {0.5f, 2f}, 2, 1);
        float[] omega = {1f, 0.5f};
        UpstreamLoss.Evaluated real = UpstreamLoss.evaluate(Upstream.hinge(1, omega), logits);
        assertThat(real.loss()).isCloseTo(0.25, within(1e-9)); // (0.5 * 1 + 0) / 2
        assertThat(real.gradient().toArray()).containsExactly(-0.5f, 0f);
        UpstreamLoss.Evaluated fakeH = UpstreamLoss.evaluate(Upstream.hinge(-1, omega), logits);
        assertThat(fakeH.loss()).isCloseTo((1.5 + 0.5 * 3) / 2, within(1e-9));
        assertThat(fakeH.gradient().toArray()).containsExactly(0.5f, 0.25f);
        // §4.4 generator side: -w_gan mean(omega D)
        UpstreamLoss.Evaluated gen = UpstreamLoss.evaluate(Upstream.linear(-0.1, omega), logits);
        assertThat(gen.loss()).isCloseTo(-0.1 * (0.5 + 0.5 * 2) / 2, within(1e-9));
        assertThat(gen.gradient().toArray()).containsExactly(new float[] {-0.05f, -0.025f}, within(1e-9f));
    }
}
