package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.AdamWReplay;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.LearningRateSchedule;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Issue 15's first diagnosis step on the reference backend: every configured learning rate, warm-up, beta, epsilon,
 * weight decay and clip norm is the one the optimizer of G, F and D really uses, read back from each step the engine
 * took (replayed in float64 from the state before it), and IDA blends F towards G's weights after G's step and before
 * F's step, with F's moments carried on.
 */
class OptimizerReadBackTest {
    private static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 16, 2);
    // three different settings, so that a module given another's settings fails
    private static final AdamWConfig G = new AdamWConfig(LearningRateSchedule.constant(2e-3, 2), 0.8, 0.99, 1e-7, 0.05,
            0.05);
    private static final AdamWConfig F = new AdamWConfig(LearningRateSchedule.cosine(5e-3, 3, 20, 1e-4), 0.85, 0.995,
            1e-6, 0, 100);
    private static final AdamWConfig D = new AdamWConfig(LearningRateSchedule.constant(1e-3, 0), 0.5, 0.9, 1e-8, 0.1,
            0.01);

    private static DistillationConfig config() {
        return DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM).toBuilder().batchSize(16).iterations(10)
                .seed(9).ttur(3).generatorOptimizer(G).fakeScoreOptimizer(F).discriminatorOptimizer(D).build();
    }

    private record Run(Mlp g, Mlp f, Mlp d, Distiller distiller) {
    }

    private static Run run(DistillationConfig cfg) {
        Mlp g = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(SPEC, 1, cfg.fakeScoreOptimizer());
        Mlp d = new Mlp(MlpSpec.discriminator(2, 8, 16, 1), 2, cfg.discriminatorOptimizer());
        Distiller dist = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(g).fakeScore(f).discriminator(d).dataset(MixtureExperiment.dataset(cfg.seed()))
                .promptEncoder(MixtureExperiment.PROMPTS).build();
        return new Run(g, f, d, dist);
    }

    private static AdamWReplay.Before capture(DifferentiableModule m) {
        return AdamWReplay.capture(m.parameters(), m.optimizer());
    }

    @Test
    void everyModuleStepsWithItsOwnConfiguredAdamWAndIdaBlendsAfterTheGeneratorStep() {
        DistillationConfig cfg = config();
        Run r = run(cfg);
        List<AdamWReplay.Report> reports = new ArrayList<>();
        double lambda = cfg.ida().lambda();
        for (int it = 0; it < cfg.iterations(); it++) {
            AdamWReplay.Before g = capture(r.g());
            AdamWReplay.Before f = capture(r.f());
            AdamWReplay.Before d = capture(r.d());
            IterationMetrics m = r.distiller().step();
            if (m.generatorUpdated()) {
                AdamWReplay.Report rg = AdamWReplay.check("G", g, g.parameters(), r.g().parameters(), r.g().optimizer(),
                        G, 1e-3);
                reports.add(rg);
                assertClipped(rg, m.parameterGradientNorms().get("generator"), G.clipNorm());
                // IDA: F starts its step from lambda F + (1 - lambda) G', G' being G after its step
                Map<String, Tensor> start = AdamWReplay.blended(f.parameters(), r.g().parameters().snapshot(), lambda);
                reports.add(AdamWReplay.check("F", f, start, r.f().parameters(), r.f().optimizer(), F, 1e-3));
            } else {
                assertThat(r.g().parameters().snapshot()).as("G between its steps").isEqualTo(g.parameters());
                assertThat(r.g().optimizer().stepCount()).isEqualTo(g.step());
                reports.add(AdamWReplay.check("F", f, f.parameters(), r.f().parameters(), r.f().optimizer(), F, 1e-3));
            }
            AdamWReplay.Report rd = AdamWReplay.check("D", d, d.parameters(), r.d().parameters(), r.d().optimizer(), D,
                    1e-3);
            reports.add(rd);
            assertClipped(rd, m.parameterGradientNorms().get("discriminator"), D.clipNorm());
        }
        // the steps counted: G every 3rd iteration (TTUR), F and D every iteration
        assertThat(r.g().optimizer().stepCount()).isEqualTo(4);
        assertThat(r.f().optimizer().stepCount()).isEqualTo(10);
        assertThat(r.d().optimizer().stepCount()).isEqualTo(10);
        assertThat(F.learningRate().rate(3)).isCloseTo(5e-3, org.assertj.core.data.Offset.offset(1e-12));
        // warm-up and decay as configured: G's first step at half its peak (2 warm-up steps), F's cosine after 3
        assertThat(reports.get(0).learningRate()).isEqualTo(1e-3);
        assertThat(reports.stream().filter(x -> x.module().equals("F")).mapToDouble(AdamWReplay.Report::learningRate))
                .containsExactly(F.learningRate().rate(0), F.learningRate().rate(1), F.learningRate().rate(2), F.learningRate().rate(3),
                        F.learningRate().rate(4), F.learningRate().rate(5), F.learningRate().rate(6),
                        F.learningRate().rate(7), F.learningRate().rate(8), F.learningRate().rate(9));
    }

    /** The clip bound: the step's gradient has norm min(raw, bound). */
    private static void assertClipped(AdamWReplay.Report r, double rawNorm, double bound) {
        if (rawNorm > bound) {
            assertThat(r.gradientNorm()).as(r.module() + " clipped gradient").isCloseTo(bound,
                    org.assertj.core.data.Offset.offset(bound * 1e-3));
        } else {
            assertThat(r.gradientNorm()).as(r.module() + " unclipped gradient").isCloseTo(rawNorm,
                    org.assertj.core.data.Offset.offset(rawNorm * 1e-3));
        }
    }

    @Test
    void theReplayNoticesAThreefoldLearningRateAndAnotherModulesBetas() {
        DistillationConfig cfg = config();
        Run r = run(cfg);
        r.distiller().step();
        AdamWReplay.Before f = capture(r.f());
        r.distiller().step();   // iteration 1: F only
        AdamWReplay.check("F", f, f.parameters(), r.f().parameters(), r.f().optimizer(), F, 1e-3);
        AdamWConfig tripled = F.withLearningRate(LearningRateSchedule.cosine(1.5e-2, 3, 20, 3e-4));
        assertThatThrownBy(() -> AdamWReplay.check("F", f, f.parameters(), r.f().parameters(), r.f().optimizer(),
                tripled, 1e-3)).isInstanceOf(AssertionError.class).hasMessageContaining("F parameter")
                .hasMessageContaining("update");
        assertThatThrownBy(() -> AdamWReplay.check("F", f, f.parameters(), r.f().parameters(), r.f().optimizer(),
                F.withBetas(0.8, 0.99), 1e-3)).isInstanceOf(AssertionError.class).hasMessageContaining("betas 0.8/0.99");
    }
}
