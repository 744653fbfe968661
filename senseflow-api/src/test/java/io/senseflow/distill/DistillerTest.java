package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.CancelledException;
import io.senseflow.CheckpointException;
import io.senseflow.InvalidRequestException;
import io.senseflow.NumericalException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ParameterSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The loop's mechanics on tiny reference modules: determinism, exact resume, TTUR, IDA, guards, bad input. */
class DistillerTest {
    private static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 16, 2);

    private static DistillationConfig config(Recipe recipe) {
        return DistillationConfig.preset(recipe, Family.CUSTOM).toBuilder().batchSize(16).iterations(12).seed(3)
                .optimizers(AdamWConfig.constant(1e-3)).dmd(new DistillationConfig.Dmd(true, 1,
                        new TimestepSpec.TableIndex(1, 20, 980), new TeacherGuidance.Cfg(1.5, 3))).build();
    }

    private record Run(Mlp g, Mlp f, Mlp d, Mlp ema, Distiller distiller) {
    }

    private static Run run(DistillationConfig cfg) {
        Mlp g = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(SPEC, 1, cfg.fakeScoreOptimizer());
        Mlp d = new Mlp(MlpSpec.discriminator(2, 8, 16, 1), 2, cfg.discriminatorOptimizer());
        Mlp ema = new Mlp(SPEC, 99, null);
        Distiller dist = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(g).fakeScore(f).discriminator(d).ema(ema.parameters())
                .dataset(MixtureExperiment.dataset(cfg.seed())).promptEncoder(MixtureExperiment.PROMPTS).build();
        return new Run(g, f, d, ema, dist);
    }

    @Test
    void sameSeedGivesBitIdenticalRunsAndAnotherSeedDoesNot() {
        DistillationConfig cfg = config(Recipe.SENSEFLOW).toBuilder().emaDecay(0.9).build();
        Run a = run(cfg);
        Run b = run(cfg);
        a.distiller().run(CancellationToken.none());
        b.distiller().run(CancellationToken.none());
        assertThat(a.g().parameters().snapshot()).isEqualTo(b.g().parameters().snapshot());
        assertThat(a.f().parameters().snapshot()).isEqualTo(b.f().parameters().snapshot());
        assertThat(a.d().parameters().snapshot()).isEqualTo(b.d().parameters().snapshot());
        assertThat(a.ema().parameters().snapshot()).isEqualTo(b.ema().parameters().snapshot());
        Run c = run(cfg.toBuilder().seed(4).build());
        c.distiller().run(CancellationToken.none());
        assertThat(c.g().parameters().snapshot()).isNotEqualTo(a.g().parameters().snapshot());
    }

    @Test
    void resumeFromASnapshotReproducesTheUninterruptedRunBitForBit() {
        DistillationConfig cfg = config(Recipe.SENSEFLOW).toBuilder().emaDecay(0.9).build();
        Run full = run(cfg);
        full.distiller().run(CancellationToken.none());

        Run first = run(cfg);
        first.distiller().runUntil(7, CancellationToken.none());
        TrainingSnapshot snap = first.distiller().snapshot();
        Run resumed = run(cfg);
        resumed.distiller().restore(snap);
        assertThat(resumed.distiller().iteration()).isEqualTo(7);
        resumed.distiller().run(CancellationToken.none());
        for (String m : List.of("g", "f", "d", "ema")) {
            Map<String, Tensor> want = switch (m) {
                case "g" -> full.g().parameters().snapshot();
                case "f" -> full.f().parameters().snapshot();
                case "d" -> full.d().parameters().snapshot();
                default -> full.ema().parameters().snapshot();
            };
            Map<String, Tensor> got = switch (m) {
                case "g" -> resumed.g().parameters().snapshot();
                case "f" -> resumed.f().parameters().snapshot();
                case "d" -> resumed.d().parameters().snapshot();
                default -> resumed.ema().parameters().snapshot();
            };
            assertThat(got).as(m).isEqualTo(want);
        }
        assertThat(resumed.g().optimizer().state().slots()).isEqualTo(full.g().optimizer().state().slots());
    }

    @Test
    void snapshotsFromAnotherConfigOrArchitectureAreRefused() {
        Run a = run(config(Recipe.SENSEFLOW));
        TrainingSnapshot snap = a.distiller().snapshot();
        Run other = run(config(Recipe.SENSEFLOW).toBuilder().seed(77).build());
        assertThatThrownBy(() -> other.distiller().restore(snap)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("another config");
        Map<String, Map<String, Tensor>> params = new java.util.LinkedHashMap<>(snap.parameters());
        Map<String, Tensor> g = new java.util.LinkedHashMap<>(params.get("generator"));
        g.put("l0.weight", Tensor.zeros(3, 3));
        params.put("generator", g);
        TrainingSnapshot bad = new TrainingSnapshot(snap.iteration(), 0, snap.configJson(), params, snap.optimizers());
        Run same = run(config(Recipe.SENSEFLOW));
        assertThatThrownBy(() -> same.distiller().restore(bad)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("l0.weight").hasMessageContaining("another architecture");
    }

    @Test
    void generatorStepsFollowTheTturRatioAndEveryTermReportsMetrics() {
        Run r = run(config(Recipe.SENSEFLOW).toBuilder().ttur(3).build());
        List<IterationMetrics> seen = new ArrayList<>();
        r.distiller().addListener(seen::add);
        r.distiller().runUntil(9, CancellationToken.none());
        assertThat(seen).extracting(IterationMetrics::generatorUpdated)
                .containsExactly(true, false, false, true, false, false, true, false, false);
        IterationMetrics first = seen.get(0);
        assertThat(first.losses()).containsKeys("dmd", "isg", "gan", "fake_score", "discriminator_real", "discriminator_fake");
        assertThat(first.outputGradientNorms()).containsKeys("dmd", "isg", "gan");
        assertThat(first.parameterGradientNorms()).containsKeys("generator", "fake_score", "discriminator");
        assertThat(first.phaseNanos()).containsKeys("teacher", "fake_score_forward", "generator_backward", "ida", "total");
        assertThat(first.losses().values()).allMatch(Double::isFinite);
        assertThat(seen.get(1).losses()).doesNotContainKey("dmd").containsKey("fake_score");
        assertThat(seen.stream().filter(IterationMetrics::backwardSimulated).count()).isBetween(1L, 8L);
    }

    @Test
    void idaBlendsTheFakeScoreTowardsTheGeneratorExactlyAfterEachGeneratorStep() {
        // fake-score learning rate 0: after a generator iteration F = lambda F_before + (1 - lambda) G_after exactly
        DistillationConfig cfg = config(Recipe.DMD_IDA).toBuilder().ttur(1)
                .fakeScoreOptimizer(AdamWConfig.constant(0)).build();
        Run r = run(cfg);
        Map<String, Tensor> fBefore = r.f().parameters().snapshot();
        r.distiller().step();
        Map<String, Tensor> gAfter = r.g().parameters().snapshot();
        double lambda = cfg.ida().lambda();
        for (ParameterSpec p : r.f().parameters().specs()) {
            float[] fb = fBefore.get(p.name()).toArray();
            float[] ga = gAfter.get(p.name()).toArray();
            float[] want = new float[fb.length];
            for (int i = 0; i < fb.length; i++) {
                want[i] = (float) (lambda * fb[i] + (1 - lambda) * ga[i]);
            }
            assertThat(r.f().parameters().read(p.name()).toArray()).as(p.name()).containsExactly(want);
        }
        // and the blend moved F: G and F started from different seeds' weights? they share the seed here, so G moved first
        assertThat(r.f().parameters().snapshot()).isNotEqualTo(fBefore);
    }

    @Test
    void withoutIdaTheFakeScoreOnlyMovesByItsOwnUpdate() {
        DistillationConfig cfg = config(Recipe.VANILLA_DMD).toBuilder().ttur(1)
                .fakeScoreOptimizer(AdamWConfig.constant(0)).build();
        Run r = run(cfg);
        Map<String, Tensor> fBefore = r.f().parameters().snapshot();
        r.distiller().step();
        assertThat(r.f().parameters().snapshot()).isEqualTo(fBefore);
        assertThat(r.g().parameters().snapshot()).isNotEqualTo(fBefore);
    }

    /** A teacher that returns NaN from iteration `from` on. */
    private static Generator poisonedTeacher() {
        MixtureFlowGenerator ok = new MixtureFlowGenerator(MixtureExperiment.DATA);
        return new Generator() {
            @Override
            public Tensor predict(Tensor x, float[] s, Conditioning c) {
                return ok.predict(x, s, c).map(v -> Float.NaN);
            }

            @Override
            public Parameterization parameterization() {
                return Parameterization.VELOCITY;
            }

            @Override
            public LatentFormat latentFormat() {
                return ok.latentFormat();
            }
        };
    }

    @Test
    void nonFiniteValuesStopTheRunNamingPhaseAndIteration() {
        // ISG uses the teacher's velocity directly: a NaN teacher makes the ISG loss NaN
        DistillationConfig cfg = config(Recipe.DMD_IDA_ISG);
        Mlp g = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(SPEC, 1, cfg.fakeScoreOptimizer());
        Distiller d = Distiller.builder().config(cfg).teacher(poisonedTeacher()).generator(g).fakeScore(f)
                .dataset(MixtureExperiment.dataset(1)).promptEncoder(MixtureExperiment.PROMPTS).build();
        assertThatThrownBy(d::step).isInstanceOf(NumericalException.class).hasMessageContaining("iteration 0")
                .hasMessageContaining("isg");
        Map<String, Tensor> before = g.parameters().snapshot();
        DistillationConfig skip = cfg.toBuilder().nonFinite(DistillationConfig.NonFinitePolicy.SKIP, 2).build();
        Distiller s = Distiller.builder().config(skip).teacher(poisonedTeacher()).generator(g).fakeScore(f)
                .dataset(MixtureExperiment.dataset(1)).promptEncoder(MixtureExperiment.PROMPTS).build();
        assertThat(s.step().skipped()).isTrue();
        assertThat(g.parameters().snapshot()).isEqualTo(before); // the generator step was skipped
        s.step(); // iteration 1: not a generator iteration, fake score updates fine
        s.step(); // iteration 2
        s.step();
        s.step();
        assertThat(s.skippedBatches()).isEqualTo(1);
        assertThatThrownBy(() -> s.runUntil(20, CancellationToken.none())).isInstanceOf(NumericalException.class)
                .hasMessageContaining("maxSkips 2");
    }

    @Test
    void cancellationStopsBetweenIterations() {
        Run r = run(config(Recipe.VANILLA_DMD));
        CancellationToken token = new CancellationToken();
        r.distiller().addListener(m -> {
            if (m.iteration() == 2) {
                token.cancel();
            }
        });
        assertThatThrownBy(() -> r.distiller().run(token)).isInstanceOf(CancelledException.class)
                .hasMessageContaining("before iteration 3");
        assertThat(r.distiller().iteration()).isEqualTo(3);
    }

    @Test
    void idaRequiresGeneratorAndFakeScoreOfTheSameArchitecture() {
        DistillationConfig cfg = config(Recipe.DMD_IDA);
        Mlp g = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(MlpSpec.denoiser(2, 8, 12, 2), 1, cfg.fakeScoreOptimizer());
        assertThatThrownBy(() -> Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(g).fakeScore(f).dataset(MixtureExperiment.dataset(1)).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("IDA").hasMessageContaining("l0.weight");
        assertThatThrownBy(() -> Distiller.builder().config(config(Recipe.SENSEFLOW))
                .teacher(new MixtureFlowGenerator(MixtureExperiment.DATA)).generator(g).fakeScore(new Mlp(SPEC, 1, cfg.fakeScoreOptimizer()))
                .dataset(MixtureExperiment.dataset(1)).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("no discriminator");
    }
}
