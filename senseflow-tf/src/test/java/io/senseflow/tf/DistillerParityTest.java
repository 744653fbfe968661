package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.Recipe;
import io.senseflow.distill.TeacherGuidance;
import io.senseflow.distill.TimestepSpec;
import io.senseflow.noise.RandomStream;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.GaussianMixture;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.testing.MixturePrompts;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.ParameterSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The strongest test of the backend (DESIGN.md, "The seam"): the same SenseFlow distillation run (DMD + IDA + ISG +
 * GAN, EMA) on the 2-D mixture, once with reference MLPs and once with the same MLPs imported into TensorFlow, from
 * identical weights and noise. Both runs must end at (nearly) the same parameters.
 */
class DistillerParityTest {
    static final GaussianMixture DATA = GaussianMixture.ring(8, 2.0, 0.2);
    static final MixturePrompts PROMPTS = new MixturePrompts(8);
    static final List<String> PROMPT_SET = List.of("all", "modes 0,1,2,3", "modes 4,5,6,7", "modes 0,2,4,6", "modes 2");
    static final MlpSpec DENOISER = MlpSpec.denoiser(2, 8, 32, 2);
    static final MlpSpec DISCRIMINATOR = MlpSpec.discriminator(2, 8, 16, 1);
    static final int ITERATIONS = 24;

    static DistillationDataset dataset(long seed) {
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int batchSize) {
                List<String> prompts = new ArrayList<>();
                float[] real = new float[2 * batchSize];
                for (int b = 0; b < batchSize; b++) {
                    long index = iteration * batchSize + b;
                    String p = PROMPT_SET.get((int) (index % PROMPT_SET.size()));
                    prompts.add(p);
                    double[][] x = DATA.sample(1, PROMPTS.parse(p), new RandomStream(seed, 17, index));
                    real[2 * b] = (float) x[0][0];
                    real[2 * b + 1] = (float) x[0][1];
                }
                return new DistillationBatch(prompts, null, null, Tensor.wrap(real, batchSize, 2, 1, 1));
            }

            @Override
            public int[] sampleShape() {
                return new int[] {2, 1, 1};
            }
        };
    }

    static DistillationConfig config() {
        return config(Recipe.SENSEFLOW);
    }

    static DistillationConfig config(Recipe recipe) {
        return DistillationConfig.preset(recipe, Family.CUSTOM).toBuilder().batchSize(16)
                .iterations(ITERATIONS).seed(5).ttur(2).emaDecay(0.9).optimizers(AdamWConfig.constant(1e-3))
                .dmd(new DistillationConfig.Dmd(true, 1, new TimestepSpec.TableIndex(1, 20, 980),
                        new TeacherGuidance.Cfg(1.5, 3))).build();
    }

    record Modules(DifferentiableModule g, DifferentiableModule f, DifferentiableModule d, DifferentiableModule ema) {
    }

    static Distiller distiller(DistillationConfig cfg, Modules m) {
        return Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(DATA)).generator(m.g())
                .fakeScore(m.f()).discriminator(m.d()).ema(m.ema().parameters()).dataset(dataset(cfg.seed()))
                .promptEncoder(PROMPTS).build();
    }

    static Modules tfModules(TfWorkspace ws, DistillationConfig cfg) {
        Map<String, Tensor> gInit = new Mlp(DENOISER, 1, null).parameters().snapshot();
        return new Modules(MlpGraph.module(DENOISER, gInit, cfg.generatorOptimizer(), ws, "generator"),
                MlpGraph.module(DENOISER, gInit, cfg.fakeScoreOptimizer(), ws, "fake_score"),
                MlpGraph.module(DISCRIMINATOR, new Mlp(DISCRIMINATOR, 2, null).parameters().snapshot(),
                        cfg.discriminatorOptimizer(), ws, "discriminator"),
                MlpGraph.module(DENOISER, new Mlp(DENOISER, 99, null).parameters().snapshot(), null, ws, "ema"));
    }

    @Test
    void idaBlendsTheFakeScoreInTheGraphExactlyAfterEachGeneratorStep() {
        DistillationConfig cfg = config(Recipe.DMD_IDA).toBuilder().ttur(1)
                .fakeScoreOptimizer(AdamWConfig.constant(0)).build();
        try (TfWorkspace ws = TfWorkspace.create()) {
            Modules m = tfModules(ws, cfg);
            Distiller run = distiller(cfg, m);
            Map<String, Tensor> fBefore = m.f().parameters().snapshot();
            run.step();
            Map<String, Tensor> gAfter = m.g().parameters().snapshot();
            double lambda = cfg.ida().lambda();
            for (ParameterSpec p : m.f().parameters().specs()) {
                float[] fb = fBefore.get(p.name()).toArray();
                float[] ga = gAfter.get(p.name()).toArray();
                float[] want = new float[fb.length];
                for (int i = 0; i < fb.length; i++) {
                    want[i] = (float) (lambda * fb[i] + (1 - lambda) * ga[i]);
                }
                assertThat(m.f().parameters().read(p.name()).toArray()).as(p.name()).containsExactly(want);
            }
            assertThat(m.f().parameters().snapshot()).isNotEqualTo(fBefore);
        }
    }

    @Test
    void twoTensorFlowRunsWithTheSameSeedAreBitIdentical() {
        DistillationConfig cfg = config().toBuilder().iterations(6).build();
        try (TfWorkspace a = TfWorkspace.create(); TfWorkspace b = TfWorkspace.create()) {
            Modules ma = tfModules(a, cfg);
            Modules mb = tfModules(b, cfg);
            distiller(cfg, ma).run(CancellationToken.none());
            distiller(cfg, mb).run(CancellationToken.none());
            assertThat(ma.g().parameters().snapshot()).isEqualTo(mb.g().parameters().snapshot());
            assertThat(ma.f().parameters().snapshot()).isEqualTo(mb.f().parameters().snapshot());
            assertThat(ma.d().parameters().snapshot()).isEqualTo(mb.d().parameters().snapshot());
            assertThat(ma.ema().parameters().snapshot()).isEqualTo(mb.ema().parameters().snapshot());
            assertThat(ma.g().optimizer().state().slots()).isEqualTo(mb.g().optimizer().state().slots());
        }
    }

    @Test
    void aDistillationRunOnTensorFlowEndsWhereTheReferenceRunEnds() {
        DistillationConfig cfg = config();
        Map<String, Tensor> gInit = new Mlp(DENOISER, 1, null).parameters().snapshot();
        Map<String, Tensor> dInit = new Mlp(DISCRIMINATOR, 2, null).parameters().snapshot();
        Mlp rg = new Mlp(DENOISER, 1, cfg.generatorOptimizer());
        Mlp rf = new Mlp(DENOISER, 1, cfg.fakeScoreOptimizer());
        Mlp rd = new Mlp(DISCRIMINATOR, 2, cfg.discriminatorOptimizer());
        Mlp rema = new Mlp(DENOISER, 99, null);
        Modules ref = new Modules(rg, rf, rd, rema);
        long t0 = System.nanoTime();
        distiller(cfg, ref).run(CancellationToken.none());
        long refNanos = System.nanoTime() - t0;
        try (TfWorkspace ws = TfWorkspace.create();
             TfModule g = MlpGraph.module(DENOISER, gInit, cfg.generatorOptimizer(), ws, "generator");
             TfModule f = MlpGraph.module(DENOISER, gInit, cfg.fakeScoreOptimizer(), ws, "fake_score");
             TfModule d = MlpGraph.module(DISCRIMINATOR, dInit, cfg.discriminatorOptimizer(), ws, "discriminator");
             TfModule ema = MlpGraph.module(DENOISER, new Mlp(DENOISER, 99, null).parameters().snapshot(), null, ws,
                     "ema")) {
            Modules tf = new Modules(g, f, d, ema);
            Distiller run = distiller(cfg, tf);
            run.step(); // first iteration builds the backward graphs; time the rest
            long t1 = System.nanoTime();
            run.run(CancellationToken.none());
            long tfNanos = System.nanoTime() - t1;
            System.out.printf("distillation, %d iterations: reference %.1f ms/it, TensorFlow %.1f ms/it%n", ITERATIONS,
                    refNanos / 1e6 / ITERATIONS, tfNanos / 1e6 / (ITERATIONS - 1));
            for (String which : List.of("generator", "fake_score", "discriminator", "ema")) {
                DifferentiableModule a = switch (which) {
                    case "generator" -> ref.g();
                    case "fake_score" -> ref.f();
                    case "discriminator" -> ref.d();
                    default -> ref.ema();
                };
                DifferentiableModule b = switch (which) {
                    case "generator" -> tf.g();
                    case "fake_score" -> tf.f();
                    case "discriminator" -> tf.d();
                    default -> tf.ema();
                };
                double worstAbs = 0;
                double worstMoved = 0;
                for (ParameterSpec p : a.parameters().specs()) {
                    Tensor want = a.parameters().read(p.name());
                    Tensor got = b.parameters().read(p.name());
                    worstAbs = Math.max(worstAbs, MlpGraph.maxDiff(got, want));
                }
                Map<String, Tensor> start = which.equals("discriminator") ? dInit : which.equals("ema")
                        ? new Mlp(DENOISER, 99, null).parameters().snapshot() : gInit;
                for (ParameterSpec p : a.parameters().specs()) {
                    worstMoved = Math.max(worstMoved, MlpGraph.maxDiff(a.parameters().read(p.name()), start.get(p.name())));
                }
                System.out.printf("%-14s max |tf - ref| = %.3g (parameters moved by up to %.3g)%n", which, worstAbs,
                        worstMoved);
                assertThat(worstMoved).as(which + " trained").isGreaterThan(1e-3);
                assertThat(worstAbs).as(which).isLessThan(1e-5);
            }
        }
    }
}
