package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.NumericalException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.PromptEncoder;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Optimizer;
import io.senseflow.train.ParameterStore;
import io.senseflow.train.Upstream;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * Non-finite values entering the distillation loop anywhere it looks (data, conditioning, backward simulation, the
 * decoder in front of the discriminator): the STOP policy names phase, iteration and tensor and leaves the parameters
 * as they were; the SKIP policy drops the batch, counts it, and stops after {@code maxSkips}.
 */
class DistillerGuardsTest {
    private static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 16, 2);

    private static DistillationConfig config(Recipe recipe) {
        return DistillationConfig.preset(recipe, Family.CUSTOM).toBuilder().batchSize(16).iterations(12).seed(3).ttur(2)
                .optimizers(AdamWConfig.constant(1e-3)).build();
    }

    private static Tensor withNaN(Tensor t) {
        float[] a = t.toArray();
        a[a.length / 2] = Float.NaN;
        return Tensor.wrap(a, t.shape());
    }

    /** The mixture dataset, with one NaN in the real samples of {@code badIteration}. */
    private static DistillationDataset poisonedData(long badIteration) {
        DistillationDataset ok = MixtureExperiment.dataset(3);
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int batchSize) {
                DistillationBatch b = ok.batch(iteration, batchSize);
                return iteration != badIteration ? b
                        : new DistillationBatch(b.prompts(), b.conditioning(), b.unconditional(), withNaN(b.realSamples()));
            }

            @Override
            public int[] sampleShape() {
                return ok.sampleShape();
            }
        };
    }

    @Test
    void nonFiniteRealSamplesStopTheRunBeforeAnyUpdate() {
        DistillationConfig cfg = config(Recipe.DMD_IDA);
        Mlp g = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(SPEC, 1, cfg.fakeScoreOptimizer());
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA)).generator(g)
                .fakeScore(f).dataset(poisonedData(2)).promptEncoder(MixtureExperiment.PROMPTS).build();
        d.runUntil(2, CancellationToken.none());
        Map<String, Tensor> gBefore = g.parameters().snapshot();
        Map<String, Tensor> fBefore = f.parameters().snapshot();
        assertThatThrownBy(() -> d.run(CancellationToken.none())).isInstanceOfSatisfying(NumericalException.class, e -> {
            assertThat(e).hasMessage("distillation: data, iteration 2: real samples has 1 NaN/Inf of 32 values");
            assertThat(e.stage()).contains("distillation: data");
            assertThat(e.position()).contains("iteration 2");
            assertThat(e.tensor()).contains("real samples");
        });
        assertThat(d.iteration()).isEqualTo(2);
        assertThat(g.parameters().snapshot()).isEqualTo(gBefore);
        assertThat(f.parameters().snapshot()).isEqualTo(fBefore);
    }

    @Test
    void theSkipPolicyDropsTheBatchCountsItAndCarriesOn() {
        DistillationConfig cfg = config(Recipe.DMD_IDA).toBuilder().nonFinite(DistillationConfig.NonFinitePolicy.SKIP, 1).build();
        Mlp g = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(SPEC, 1, cfg.fakeScoreOptimizer());
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA)).generator(g)
                .fakeScore(f).dataset(poisonedData(2)).promptEncoder(MixtureExperiment.PROMPTS).build();
        d.runUntil(2, CancellationToken.none());
        Map<String, Tensor> gBefore = g.parameters().snapshot();
        IterationMetrics m = d.step();
        assertThat(m.skipped()).isTrue();
        assertThat(m.iteration()).isEqualTo(2);
        assertThat(g.parameters().snapshot()).isEqualTo(gBefore);
        assertThat(d.skippedBatches()).isEqualTo(1);
        d.run(CancellationToken.none());
        assertThat(d.iteration()).isEqualTo(12);
        assertThat(d.skippedBatches()).isEqualTo(1);
        assertThat(d.snapshot().skippedBatches()).isEqualTo(1); // survives a checkpoint

        // a second poisoned batch exceeds maxSkips = 1
        Distiller twice = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(new Mlp(SPEC, 1, cfg.generatorOptimizer())).fakeScore(new Mlp(SPEC, 1, cfg.fakeScoreOptimizer()))
                .dataset(new DistillationDataset() {
                    final DistillationDataset ok = MixtureExperiment.dataset(3);

                    @Override
                    public DistillationBatch batch(long iteration, int batchSize) {
                        DistillationBatch b = ok.batch(iteration, batchSize);
                        return new DistillationBatch(b.prompts(), null, null, iteration >= 4 ? withNaN(b.realSamples())
                                : b.realSamples());
                    }

                    @Override
                    public int[] sampleShape() {
                        return ok.sampleShape();
                    }
                }).promptEncoder(MixtureExperiment.PROMPTS).build();
        assertThatThrownBy(() -> twice.run(CancellationToken.none())).isInstanceOf(NumericalException.class)
                .hasMessageStartingWith("stopping after 2 skipped batches (maxSkips 1); last: distillation: data, iteration 5");
    }

    @Test
    void nonFiniteConditioningFromThePromptEncoderNamesIt() {
        DistillationConfig cfg = config(Recipe.VANILLA_DMD);
        PromptEncoder poisoned = prompts -> {
            Conditioning c = MixtureExperiment.PROMPTS.encode(prompts);
            return new Conditioning(c.tokens(), withNaN(c.pooled()), c.mask(), c.extras());
        };
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(new Mlp(SPEC, 1, cfg.generatorOptimizer())).fakeScore(new Mlp(SPEC, 1, cfg.fakeScoreOptimizer()))
                .dataset(MixtureExperiment.dataset(3)).promptEncoder(poisoned).build();
        assertThatThrownBy(d::step).isInstanceOf(NumericalException.class)
                .hasMessageStartingWith("distillation: data, iteration 0: conditioning (pooled embedding) has 1 NaN/Inf");
    }

    @Test
    void aGeneratorThatBlowsUpDuringBackwardSimulationIsCaughtThere() {
        DistillationConfig cfg = config(Recipe.VANILLA_DMD).toBuilder().backwardSimulation(1.0).build();
        Mlp g = new Mlp(SPEC, 1, cfg.generatorOptimizer());
        Delegate poisoned = new Delegate(g) {
            @Override
            public Tensor forward(ModuleInputs in) {
                Tensor out = super.forward(in);
                float[] s = in.get(ModuleInputs.SIGMA).toArray();
                boolean allAtFirstAnchor = true;
                for (float v : s) {
                    allAtFirstAnchor &= v == 1f;
                }
                return allAtFirstAnchor ? withNaN(out) : out; // backward simulation starts from the first anchor
            }
        };
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(poisoned).fakeScore(new Mlp(SPEC, 1, cfg.fakeScoreOptimizer()))
                .dataset(MixtureExperiment.dataset(3)).promptEncoder(MixtureExperiment.PROMPTS).build();
        assertThatThrownBy(d::step).isInstanceOfSatisfying(NumericalException.class, e -> {
            assertThat(e.stage()).contains("distillation: backward simulation");
            assertThat(e.position()).contains("iteration 0");
            assertThat(e.tensor()).contains("generator output v_G at anchor 0 (s = 1.0)");
        });
    }

    @Test
    void aDecoderThatOverflowsInFrontOfTheDiscriminatorIsCaught() {
        DistillationConfig cfg = config(Recipe.SENSEFLOW);
        AtomicBoolean poison = new AtomicBoolean();
        DifferentiableModule identityDecoder = new DifferentiableModule() {
            @Override
            public Tensor forward(ModuleInputs in) {
                return poison.get() ? in.x().map(v -> v * Float.MAX_VALUE * 2) : in.x();
            }

            @Override
            public BackwardResult backward(ModuleInputs in, Upstream up, GradientMode mode) {
                return new BackwardResult(Double.NaN, forward(in), Map.of(ModuleInputs.X, ((Upstream.Explicit) up).gradient()));
            }

            @Override
            public ParameterStore parameters() {
                throw new UnsupportedOperationException("a frozen identity has no parameters");
            }

            @Override
            public Optimizer optimizer() {
                return null;
            }

            @Override
            public void close() {
            }
        };
        Mlp disc = new Mlp(MlpSpec.discriminator(2, 8, 16, 1), 2, cfg.discriminatorOptimizer());
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(new Mlp(SPEC, 1, cfg.generatorOptimizer())).fakeScore(new Mlp(SPEC, 1, cfg.fakeScoreOptimizer()))
                .discriminator(disc).decoder(identityDecoder).dataset(MixtureExperiment.dataset(3))
                .promptEncoder(MixtureExperiment.PROMPTS).build();
        d.step(); // iteration 0 (a generator step, GAN term through the decoder) runs clean
        poison.set(true);
        Map<String, Tensor> before = disc.parameters().snapshot();
        assertThatThrownBy(d::step).isInstanceOf(NumericalException.class) // iteration 1: no generator step (ttur 2)
                .hasMessageStartingWith("distillation: discriminator update, iteration 1: decoder output (real samples) has ").hasMessageEndingWith(" NaN/Inf of 32 values");
        assertThat(disc.parameters().snapshot()).isEqualTo(before);
    }

    /** Forwards everything to another module. */
    private static class Delegate implements DifferentiableModule {
        private final DifferentiableModule inner;

        Delegate(DifferentiableModule inner) {
            this.inner = inner;
        }

        @Override
        public Tensor forward(ModuleInputs in) {
            return inner.forward(in);
        }

        @Override
        public BackwardResult backward(ModuleInputs in, Upstream up, GradientMode mode) {
            return inner.backward(in, up, mode);
        }

        @Override
        public ParameterStore parameters() {
            return inner.parameters();
        }

        @Override
        public Optimizer optimizer() {
            return inner.optimizer();
        }

        @Override
        public void close() {
            inner.close();
        }
    }

}
