package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The named parts of the loop: the flow identities, IDA as a class, the fake-score sampler hook. */
class LoopPartsTest {
    private static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 16, 2);

    private static Tensor ramp(int batch, int per, double phase) {
        float[] a = new float[batch * per];
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) Math.sin(1.3 * i + phase) * 2;
        }
        return Tensor.wrap(a, batch, per, 1);
    }

    @Test
    void theFlowIdentitiesMatchADoubleComputation() {
        int batch = 3;
        int per = 5;
        Tensor x0 = ramp(batch, per, 0.1);
        Tensor eps = ramp(batch, per, 2.0);
        Tensor v = ramp(batch, per, 4.0);
        float[] s = {0.93f, 0.5f, 0.061f};
        float[] to = {0.7f, 0.25f, 0f};
        Tensor xs = FlowIdentities.noised(x0, s, eps);
        Tensor clean = FlowIdentities.clean(xs, s, v);
        Tensor target = FlowIdentities.velocityTarget(x0, eps);
        Tensor stepped = FlowIdentities.step(xs, s, to, v);
        for (int b = 0; b < batch; b++) {
            for (int i = 0; i < per; i++) {
                int k = b * per + i;
                double want = (1 - (double) s[b]) * x0.get(k) + s[b] * (double) eps.get(k);
                assertThat((double) xs.get(k)).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-6));
                assertThat((double) clean.get(k)).isCloseTo(xs.get(k) - (double) s[b] * v.get(k),
                        org.assertj.core.data.Offset.offset(1e-6));
                assertThat(target.get(k)).isEqualTo(eps.get(k) - x0.get(k));
                assertThat((double) stepped.get(k)).isCloseTo(xs.get(k) + ((double) to[b] - s[b]) * v.get(k),
                        org.assertj.core.data.Offset.offset(1e-6));
            }
        }
        // the velocity target is what makes x0 = x_s - s v exact: v = eps - x0 recovers x0 to rounding
        Tensor back = FlowIdentities.clean(xs, s, target);
        for (int k = 0; k < x0.size(); k++) {
            assertThat((double) back.get(k)).isCloseTo(x0.get(k), org.assertj.core.data.Offset.offset(1e-5));
        }
        // one level for the batch is the per-sample form with equal levels, bit for bit
        float[] same = {0.37f, 0.37f, 0.37f};
        assertThat(FlowIdentities.noised(x0, 0.37f, eps)).isEqualTo(FlowIdentities.noised(x0, same, eps));
        assertThat(FlowIdentities.clean(xs, 0.37f, v)).isEqualTo(FlowIdentities.clean(xs, same, v));
    }

    @Test
    void idaIsTheAlgorithmPagesVectorAndRefusesBadLambdas() {
        // docs/algorithm.md §4.6: phi = [1, 0], theta = [0, 1], lambda = 0.97 give phi = [0.97, 0.03]
        Mlp f = new Mlp(SPEC, 1, null);
        Mlp g = new Mlp(SPEC, 2, null);
        String name = f.parameters().specs().get(0).name();
        int[] shape = f.parameters().specs().get(0).shape();
        int n = 1;
        for (int d : shape) {
            n *= d;
        }
        float[] phi = new float[n];
        float[] theta = new float[n];
        phi[0] = 1;
        theta[1] = 1;
        f.parameters().write(name, Tensor.wrap(phi, shape));
        g.parameters().write(name, Tensor.wrap(theta, shape));
        new ImplicitDistributionAlignment(0.97).align(f.parameters(), g.parameters());
        float[] got = f.parameters().read(name).toArray();
        assertThat(got[0]).isEqualTo(0.97f);
        assertThat(got[1]).isEqualTo(0.03f);
        assertThat(ImplicitDistributionAlignment.of(new DistillationConfig.Ida(false, 0.97))).isNull();
        assertThat(ImplicitDistributionAlignment.of(new DistillationConfig.Ida(true, 0.98)).lambda()).isEqualTo(0.98);
        assertThatThrownBy(() -> new ImplicitDistributionAlignment(1.0)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("ida.lambda");
        Mlp other = new Mlp(MlpSpec.denoiser(2, 8, 12, 2), 1, null);
        assertThatThrownBy(() -> ImplicitDistributionAlignment.requireCompatible(other.parameters(), g.parameters()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("IDA");
    }

    @Test
    void aFakeScoreSamplerOnTheBuilderReplacesTheConfigsLevels() {
        DistillationConfig cfg = DistillationConfig.preset(Recipe.DMD_IDA, Family.CUSTOM).toBuilder().batchSize(8)
                .iterations(4).ttur(1).seed(3).optimizers(AdamWConfig.constant(1e-3)).build();
        List<Double> draws = new ArrayList<>();
        TimestepSampler low = rng -> {
            double u = 0.05 + 0.1 * rng.nextUniform();
            draws.add(u);
            return u;
        };
        Mlp gA = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Mlp fA = new Mlp(SPEC, 1, cfg.fakeScoreOptimizer());
        Mlp gB = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Mlp fB = new Mlp(SPEC, 1, cfg.fakeScoreOptimizer());
        Distiller plain = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(gA).fakeScore(fA).dataset(MixtureExperiment.dataset(2)).promptEncoder(MixtureExperiment.PROMPTS)
                .build();
        Distiller custom = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(gB).fakeScore(fB).dataset(MixtureExperiment.dataset(2)).promptEncoder(MixtureExperiment.PROMPTS)
                .fakeScoreTimesteps(low).build();
        plain.run(CancellationToken.none());
        custom.run(CancellationToken.none());
        assertThat(draws).hasSize(4 * 8).allMatch(u -> u >= 0.05 && u <= 0.15);
        // the fake score trained on other levels: its weights differ from the run on the config's levels
        assertThat(fB.parameters().snapshot()).isNotEqualTo(fA.parameters().snapshot());
    }
}
