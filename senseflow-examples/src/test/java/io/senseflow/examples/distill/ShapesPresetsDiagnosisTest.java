package io.senseflow.examples.distill;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.TimestepSpec;
import io.senseflow.noise.RandomStream;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.train.LearningRateSchedule;
import java.util.Arrays;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

/**
 * Issue 15's noise-level and schedule checks of the Shapes presets (docs/results.md, "Diagnosis of the overshoot"):
 * the fake score's and the DMD term's noise levels are drawn from the distributions the config names, in the
 * teacher's convention (flow {@code s}, static shift 3, as the bundled teacher was trained: logit-normal(0, 1) then
 * shift 3); and the learning rates each optimizer reaches within the preset's budget, warm-up counted in the
 * optimizer's own steps (G's warm-up is given in generator steps, so that it ends at the same iteration as F's).
 */
class ShapesPresetsDiagnosisTest {
    private static final int DRAWS = 40_000;

    private static double[] draws(TimestepSampler sampler) {
        double[] s = sampler.sample(DRAWS, new RandomStream(1, 77, 0));
        Arrays.sort(s);
        return s;
    }

    private static double shift3(double s) {
        return 3 * s / (1 + 2 * s);
    }

    /** Standard normal quantiles at 5, 25, 50, 75, 95 %. */
    private static final double[] Q = {0.05, 0.25, 0.5, 0.75, 0.95};
    private static final double[] Z = {-1.6448536, -0.6744898, 0, 0.6744898, 1.6448536};

    @Test
    void theFakeScoresLevelsAreTheTeachersTrainingDistribution() {
        DistillationConfig cfg = ShapesPresets.named("senseflow");
        // the bundled teacher's training levels (train-teacher's defaults, its provenance): logit-normal(0, 1), shift 3
        assertThat(cfg.fakeScoreTimesteps()).isEqualTo(new TimestepSpec.LogitNormal(0, 1, 3));
        double[] s = draws(cfg.fakeScoreTimesteps().sampler());
        for (int i = 0; i < Q.length; i++) {
            double want = shift3(1 / (1 + Math.exp(-Z[i])));
            assertThat(s[(int) (Q[i] * DRAWS)]).as("quantile " + Q[i]).isCloseTo(want, Offset.offset(0.01));
        }
    }

    @Test
    void theDmdLevelsAreUniformOverTheShiftedTableIndices20To980() {
        DistillationConfig cfg = ShapesPresets.named("senseflow");
        assertThat(cfg.dmd().noiseLevels()).isEqualTo(new TimestepSpec.TableIndex(3, 20, 980));
        double[] s = draws(cfg.dmd().noiseLevels().sampler());
        assertThat(s[0]).isCloseTo(shift3(21 / 1000.0), Offset.offset(1e-6));          // table[20] = 0.060461
        assertThat(s[DRAWS - 1]).isCloseTo(shift3(981 / 1000.0), Offset.offset(1e-6)); // table[980] = 0.993585
        assertThat(Arrays.stream(s).average().orElseThrow()).isCloseTo(0.684, Offset.offset(0.005));
        for (double q : Q) {
            double want = shift3((20 + q * 960 + 1) / 1000.0);
            assertThat(s[(int) (q * DRAWS)]).as("quantile " + q).isCloseTo(want, Offset.offset(0.01));
        }
        // how often each side sees low noise (s < 0.3): the DMD term asks F there about four times as often as F trains
        double dmdLow = fractionBelow(s, 0.3);
        double fakeLow = fractionBelow(draws(cfg.fakeScoreTimesteps().sampler()), 0.3);
        assertThat(dmdLow).isCloseTo(0.109, Offset.offset(0.01));
        assertThat(fakeLow).isCloseTo(0.026, Offset.offset(0.005));
    }

    private static double fractionBelow(double[] sorted, double x) {
        int i = Arrays.binarySearch(sorted, x);
        return (i < 0 ? -i - 1 : i) / (double) sorted.length;
    }

    @Test
    void theGeneratorReachesItsRateAtIteration100LikeTheFakeScore() {
        DistillationConfig cfg = ShapesPresets.named("senseflow");
        LearningRateSchedule g = cfg.generatorOptimizer().learningRate();
        LearningRateSchedule f = cfg.fakeScoreOptimizer().learningRate();
        // warm-up counts each optimizer's own steps: F steps on every iteration, G on iterations 0, ttur, 2 ttur, ...
        assertThat(f.rate(ShapesPresets.WARMUP - 2)).isLessThan(f.peak());
        assertThat(f.rate(ShapesPresets.WARMUP - 1)).isEqualTo(f.peak());
        int k = ShapesPresets.GENERATOR_WARMUP;   // G's first step at its rate is its k-th, at iteration (k - 1) ttur
        assertThat(g.rate(k - 2)).isLessThan(g.peak());
        assertThat(g.rate(k - 1)).isEqualTo(g.peak());
        assertThat((long) (k - 1) * cfg.ttur()).isLessThan(ShapesPresets.WARMUP).isGreaterThanOrEqualTo(
                ShapesPresets.WARMUP - cfg.ttur());
        // over the preset's budget G spends all but its first GENERATOR_WARMUP - 1 steps at its configured rate (the
        // first preset's 300-iteration run ended at 60 % of it: 100 warm-up steps of a generator that steps every 5th
        // iteration are 500 iterations)
        long generatorSteps = (cfg.iterations() + cfg.ttur() - 1) / cfg.ttur();
        double mean = 0;
        for (long s = 0; s < generatorSteps; s++) {
            mean += g.rate(s) / generatorSteps;
        }
        double expected = (generatorSteps - k + (k + 1) / 2.0) / generatorSteps;   // sum_{j=1..k} j/k = (k + 1) / 2
        assertThat(mean).isCloseTo(expected * g.peak(), Offset.offset(1e-9 * g.peak()));
        assertThat(mean).isGreaterThan(0.9 * g.peak());
    }
}
