package io.senseflow.examples.distill;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.TrackingProbe;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.AdamWReplay;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.LearningRateSchedule;
import io.senseflow.tf.run.DiscriminatorPlugin;
import io.senseflow.tf.run.DistillationRun;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15's optimizer read-back on the engine the Shapes runs use: TensorFlow's {@code TfAdamW} under G, F and the
 * fake-score-features discriminator of a Shapes run ({@link ShapesRun}; the {@code senseflow} preset's terms, on a tiny
 * random teacher). Each step is replayed in float64 from the state before it: the learning rate (warm-up position
 * included), betas, epsilon and weight decay each module was configured with are the ones it stepped with; the
 * gradients still in its accumulators after the iteration are the clipped ones it stepped with (nothing — the
 * discriminator on F's features, the GAN term's input-only passes — adds to F's or G's accumulators after their step);
 * IDA's blend acts on F, after G's step, with G's new weights, and F's moments carry on across it.
 */
class TfOptimizerReadBackTest {
    private static final AdamWConfig G = new AdamWConfig(LearningRateSchedule.constant(2e-3, 2), 0.8, 0.99, 1e-7, 0.05,
            0.05);
    private static final AdamWConfig F = new AdamWConfig(LearningRateSchedule.constant(5e-3, 3), 0.85, 0.995, 1e-6, 0,
            100);
    private static final AdamWConfig D = new AdamWConfig(LearningRateSchedule.constant(1e-3, 0), 0.5, 0.9, 1e-8, 0.1,
            0.01);

    @TempDir
    Path dir;

    private static AdamWReplay.Before capture(DifferentiableModule m) {
        return AdamWReplay.capture(m.parameters(), m.optimizer());
    }

    @Test
    void generatorFakeScoreAndDiscriminatorStepWithTheirOwnSettingsAndIdaFollowsTheGeneratorStep() {
        Path teacher = TinyShapesTeacher.write(dir.resolve("teacher"), 5);
        DistillationConfig cfg = ShapesPresets.named("senseflow").toBuilder().batchSize(2).iterations(3).ttur(2)
                .generatorOptimizer(G).fakeScoreOptimizer(F).discriminatorOptimizer(D).build();
        TeacherFolder shapes = TeacherFolder.read(teacher);
        ShapesDiscriminator heads = ShapesDiscriminator.forTeacher(shapes.transformerConfig(), null);
        DifferentiableModule[] made = new DifferentiableModule[1];
        try (DistillationRun run = ShapesRun.builder(shapes, cfg, ShapesRun.Settings.defaults().withThreads(1)
                .withTrackEvery(2), dir.resolve("run")).checkpointEvery(cfg.iterations())
                // the Shapes discriminator, kept in hand to read its optimizer back
                .discriminator(c -> {
                    DiscriminatorPlugin.Parts p = heads.create(c);
                    made[0] = p.discriminator();
                    return p;
                }).build()) {
            DifferentiableModule g = run.modules().generator();
            DifferentiableModule f = run.modules().fakeScore();
            DifferentiableModule d = made[0];
            int checked = 0;
            for (int it = 0; it < cfg.iterations(); it++) {
                AdamWReplay.Before gb = capture(g);
                AdamWReplay.Before fb = capture(f);
                AdamWReplay.Before db = capture(d);
                IterationMetrics m = run.runUntil(it + 1, CancellationToken.none());
                Map<String, Tensor> fStart = fb.parameters();
                if (m.generatorUpdated()) {
                    AdamWReplay.Report rg = AdamWReplay.check("G", gb, gb.parameters(), g.parameters(), g.optimizer(),
                            G, 1e-3);
                    assertThat(rg.learningRate()).isEqualTo(G.learningRate().rate(gb.step()));
                    double raw = m.parameterGradientNorms().get("generator");
                    assertThat(rg.gradientNorm()).as("G's clipped gradient").isCloseTo(Math.min(raw, G.clipNorm()),
                            org.assertj.core.data.Offset.offset(1e-3 * G.clipNorm()));
                    fStart = AdamWReplay.blended(fb.parameters(), g.parameters().snapshot(), cfg.ida().lambda());
                    checked++;
                } else {
                    assertThat(g.optimizer().stepCount()).isEqualTo(gb.step());
                }
                AdamWReplay.check("F", fb, fStart, f.parameters(), f.optimizer(), F, 1e-3);
                AdamWReplay.Report rd = AdamWReplay.check("D", db, db.parameters(), d.parameters(), d.optimizer(), D,
                        1e-3);
                double rawD = m.parameterGradientNorms().get("discriminator");
                assertThat(rd.gradientNorm()).as("D's clipped gradient").isCloseTo(Math.min(rawD, D.clipNorm()),
                        org.assertj.core.data.Offset.offset(1e-3 * D.clipNorm()));
                checked += 2;
                assertThat(m.losses().containsKey(TrackingProbe.FAKE_LOSS)).isEqualTo(it % 2 == 0);
            }
            assertThat(checked).isEqualTo(2 + 2 * 3);
            assertThat(g.optimizer().stepCount()).isEqualTo(2);
            assertThat(f.optimizer().stepCount()).isEqualTo(3);
        }
    }
}
