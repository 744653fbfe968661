package io.senseflow.onnx.reliability;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.Recipe;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.testing.GaussianMixture;
import io.senseflow.testing.MixtureDataset;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import java.util.List;

/**
 * The distillation run that {@link CrashResumeTest} kills and resumes, built the same way in the test JVM and in the
 * child JVMs: the SenseFlow recipe (DMD + IDA + ISG + GAN, TTUR 2, EMA) on the pure-Java reference backend, distilling
 * the exact flow of a 2-D Gaussian mixture. Every run with this config starts from the same weights, so its state at
 * each iteration is a fixed function of the iteration.
 */
final class CrashRun {
    static final GaussianMixture DATA = GaussianMixture.ring(8, 2.0, 0.2);
    static final MlpSpec DENOISER = MlpSpec.denoiser(2, 8, 32, 2);
    static final MlpSpec DISCRIMINATOR = MlpSpec.discriminator(2, 8, 16, 1);

    private CrashRun() {
    }

    static DistillationConfig config(long iterations) {
        return DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM).toBuilder().batchSize(32).iterations(iterations)
                .seed(23).ttur(2).emaDecay(0.95).optimizers(AdamWConfig.constant(1e-3)).build();
    }

    static Distiller distiller(DistillationConfig cfg) {
        Mlp g = new Mlp(DENOISER, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(DENOISER, 1, cfg.fakeScoreOptimizer());
        Mlp d = new Mlp(DISCRIMINATOR, 2, cfg.discriminatorOptimizer());
        Mlp ema = new Mlp(DENOISER, 3, null);
        MixtureDataset data = new MixtureDataset(DATA, List.of("all", "modes 0,1,2,3", "modes 2", "modes 4,5"), cfg.seed());
        return Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(DATA)).generator(g).fakeScore(f)
                .discriminator(d).ema(ema.parameters()).dataset(data).promptEncoder(data.promptEncoder()).build();
    }

    /** @return whether two snapshots hold the same iteration, skip count, config, parameters and optimizer states, bit for bit */
    static boolean same(TrainingSnapshot a, TrainingSnapshot b) {
        return a.iteration() == b.iteration() && a.skippedBatches() == b.skippedBatches()
                && a.configJson().equals(b.configJson()) && a.parameters().equals(b.parameters())
                && a.optimizers().equals(b.optimizers());
    }
}
