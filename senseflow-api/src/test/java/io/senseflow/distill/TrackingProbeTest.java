package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The fake-score tracking probe: a measurement that changes nothing, and one that sees a fake score learn. */
class TrackingProbeTest {
    private static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 32, 2);

    private record Run(Mlp g, Mlp f, Distiller distiller, List<IterationMetrics> metrics) {
    }

    private static Run run(DistillationConfig cfg, long probeEvery) {
        return run(new Mlp(SPEC, 1, cfg.generatorOptimizer()), new Mlp(SPEC, 1, cfg.fakeScoreOptimizer()), cfg,
                probeEvery);
    }

    private static Run run(Mlp g, Mlp f, DistillationConfig cfg, long probeEvery) {
        List<IterationMetrics> seen = new ArrayList<>();
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(g).fakeScore(f).dataset(MixtureExperiment.dataset(cfg.seed()))
                .promptEncoder(MixtureExperiment.PROMPTS).trackingProbe(probeEvery).listener(seen::add).build();
        return new Run(g, f, d, seen);
    }

    private static DistillationConfig config(Recipe recipe, TeacherGuidance guidance, AdamWConfig generator, long n) {
        DistillationConfig base = DistillationConfig.preset(recipe, Family.CUSTOM);
        return base.toBuilder().batchSize(32).iterations(n).seed(11).optimizers(AdamWConfig.constant(3e-3))
                .generatorOptimizer(generator)
                .dmd(new DistillationConfig.Dmd(true, 1, base.dmd().noiseLevels(), guidance)).build();
    }

    @Test
    void aRunWithTheProbeIsBitIdenticalToOneWithout() {
        DistillationConfig cfg = config(Recipe.DMD_IDA_ISG, new TeacherGuidance.Cfg(2, 2), AdamWConfig.constant(1e-3), 12);
        Run with = run(cfg, 4);
        Run without = run(cfg, 0);
        with.distiller().run(CancellationToken.none());
        without.distiller().run(CancellationToken.none());
        assertThat(with.g().parameters().snapshot()).isEqualTo(without.g().parameters().snapshot());
        assertThat(with.f().parameters().snapshot()).isEqualTo(without.f().parameters().snapshot());
        assertThat(with.metrics()).filteredOn(m -> m.losses().containsKey(TrackingProbe.FAKE_LOSS))
                .extracting(IterationMetrics::iteration).containsExactly(0L, 4L, 8L);
        assertThat(without.metrics()).allSatisfy(m -> assertThat(m.losses()).doesNotContainKey(TrackingProbe.DMD));
        // the probe's time is not training time
        assertThat(with.metrics().get(0).phaseNanos()).containsKey("tracking_probe");
    }

    @Test
    void aFakeScoreTrainedOnAFrozenGeneratorsSamplesLearnsToDenoiseThemBetterThanTheTeacher() {
        // G frozen (lr 0): F's flow matching on G's samples is all that trains; without guidance the DMD direction
        // is exactly what F has learnt (fake minus teacher)
        // G and F start from the 2-D experiment's fit of the teacher, as real G and F start from the teacher
        DistillationConfig cfg = config(Recipe.VANILLA_DMD, new TeacherGuidance.None(), AdamWConfig.constant(0), 300);
        Run r = run(MixtureExperiment.initFromTeacher(cfg.generatorOptimizer()),
                MixtureExperiment.initFromTeacher(cfg.fakeScoreOptimizer()), cfg, 50);
        r.distiller().run(CancellationToken.none());
        List<Map<String, Double>> probes = r.metrics().stream().map(IterationMetrics::losses)
                .filter(l -> l.containsKey(TrackingProbe.FAKE_LOSS)).toList();
        assertThat(probes).hasSize(6);
        Map<String, Double> first = probes.get(0);
        Map<String, Double> last = probes.get(probes.size() - 1);
        assertThat(last.get(TrackingProbe.TEACHER_LOSS)).as("the teacher does not change")
                .isEqualTo(first.get(TrackingProbe.TEACHER_LOSS));
        System.out.println("tracking probe, frozen G: " + probes.stream().map(p -> p.get(TrackingProbe.LOSS_RATIO))
                .toList());
        assertThat(last.get(TrackingProbe.FAKE_LOSS)).isLessThan(first.get(TrackingProbe.FAKE_LOSS));
        assertThat(last.get(TrackingProbe.LOSS_RATIO)).as("F denoises G's samples better than the teacher").isLessThan(1);
        for (Map<String, Double> p : probes) {
            assertThat(p.get(TrackingProbe.GUIDANCE)).isZero();
            assertThat(p.get(TrackingProbe.DMD)).isEqualTo(p.get(TrackingProbe.FAKE_VS_TEACHER));
        }
    }

    @Test
    void withGuidanceTheProbeSplitsTheDmdDirectionIntoGuidanceAndTheRest() {
        DistillationConfig cfg = config(Recipe.VANILLA_DMD, new TeacherGuidance.Cfg(3, 3), AdamWConfig.constant(0), 1);
        Run r = run(cfg, 1);
        r.distiller().step();
        Map<String, Double> p = r.metrics().get(0).losses();
        assertThat(p.get(TrackingProbe.GUIDANCE)).isPositive();
        // |fake - real| <= |fake - cond| + |cond - real|
        assertThat(p.get(TrackingProbe.DMD)).isLessThanOrEqualTo(p.get(TrackingProbe.GUIDANCE)
                + p.get(TrackingProbe.FAKE_VS_TEACHER) + 1e-9);
        assertThat(p.get(TrackingProbe.GUIDANCE_COSINE)).isBetween(-1.0, 1.0);
    }
}
