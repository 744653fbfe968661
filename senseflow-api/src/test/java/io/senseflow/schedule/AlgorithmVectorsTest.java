package io.senseflow.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** Every vector of docs/algorithm.md §1 and §2. */
class AlgorithmVectorsTest {
    private static final double TOL = 1e-6;

    @Test
    void ddpmAlphaBarVector() {
        DdpmSchedule d = DdpmSchedule.stableDiffusion();
        assertThat(d.alphaBar(999)).isCloseTo(0.004660, within(5e-7));
        assertThat(d.alphaBar(749)).isCloseTo(0.056623, within(5e-7));
        assertThat(d.alphaBar(499)).isCloseTo(0.277670, within(5e-7));
        assertThat(d.alphaBar(249)).isCloseTo(0.675432, within(5e-7));
    }

    @Test
    void sdxlAnchorsMapIntoFlowConvention() {
        DdpmSchedule d = DdpmSchedule.stableDiffusion();
        int[] t = {999, 749, 499, 249};
        double[] s = {0.935958, 0.803217, 0.617281, 0.409404};
        double[] scale = {1.065932, 1.209233, 1.376844, 1.391555};
        for (int i = 0; i < t.length; i++) {
            assertThat(d.flowSigma(t[i])).as("s at t=%d", t[i]).isCloseTo(s[i], within(5e-7));
            assertThat(d.signalScale(t[i]) + d.noiseScale(t[i])).as("a+b at t=%d", t[i]).isCloseTo(scale[i], within(5e-7));
            // the inverse map returns the exact integer timestep
            assertThat(d.timestepForFlowSigma(d.flowSigma(t[i]))).isEqualTo(t[i]);
        }
        assertThat(AnchorPreset.SDXL.anchors()).containsExactly(s, within(5e-7));
        // b / a = 14.6 at t = 999: the reason to compute in double
        assertThat(d.noiseScale(999) / d.signalScale(999)).isCloseTo(14.6, within(0.05));
    }

    @Test
    void continuousTimestepsInterpolateBetweenTableEntries() {
        DdpmSchedule d = DdpmSchedule.stableDiffusion();
        double mid = 0.5 * (d.flowSigma(500) + d.flowSigma(501));
        double t = d.timestepForFlowSigma(mid);
        assertThat(t).isStrictlyBetween(500.0, 501.0);
        double[] ab = d.scalesAt(t);
        assertThat(ab[1] / (ab[0] + ab[1])).isCloseTo(mid, within(1e-9));
        assertThat(ab[0] * ab[0] + ab[1] * ab[1]).isCloseTo(1.0, within(1e-12));
    }

    @Test
    void staticShiftVector() {
        double[] in = {1, .75, .5, .25};
        double[] out = {1, 0.9, 0.75, 0.5};
        for (int i = 0; i < in.length; i++) {
            assertThat(Schedules.shift(in[i], 3)).isCloseTo(out[i], within(TOL));
            assertThat(Schedules.unshift(out[i], 3)).isCloseTo(in[i], within(TOL));
        }
    }

    @Test
    void shiftedTrainingTableVector() {
        double[] table = Schedules.trainingTable(Shift.fixed(3), 0);
        assertThat(table).hasSize(1000);
        assertThat(table[20]).isCloseTo(0.060461, within(5e-7));
        assertThat(table[980]).isCloseTo(0.993585, within(5e-7));
        assertThat(table[999]).isEqualTo(1.0);
        assertThat(table[0]).isCloseTo(0.002994, within(5e-7));
    }

    @Test
    void dynamicShiftVectors() {
        double[] in = {1, .75, .5, .25};
        double[] at1024 = {1, 0.904531, 0.759511, 0.512844};
        double[] at512 = {1, 0.849235, 0.652489, 0.384945};
        for (int i = 0; i < in.length; i++) {
            assertThat(Schedules.dynamicShift(in[i], 1.15)).isCloseTo(at1024[i], within(TOL));
            assertThat(Schedules.dynamicShift(in[i], 0.63)).isCloseTo(at512[i], within(TOL));
        }
        Shift.Dynamic flux = (Shift.Dynamic) Shift.flux();
        assertThat(flux.mu(4096)).isCloseTo(1.15, within(1e-12)); // 1024 x 1024 pixels
        assertThat(flux.mu(256)).isCloseTo(0.5, within(1e-12));
        assertThat(flux.mu(1024)).isCloseTo(0.63, within(1e-12)); // 512 x 512 pixels
        assertThat(flux.mu(8192)).isGreaterThan(1.15); // not clamped
    }

    @Test
    void sd3DefaultSigmasVector() {
        SigmaSchedule s = FlowMatchEulerScheduler.sd3(3).timesteps(4, 4096);
        assertThat(s.sigmas()).containsExactly(new double[] {1, 0.857692, 0.602151, 0.008929, 0}, within(TOL));
    }

    @Test
    void fluxDefaultSigmasUseLinspaceToOneOverNThenDynamicShift() {
        SigmaSchedule s = FlowMatchEulerScheduler.flux().timesteps(4, 4096);
        // linspace(1, 1/4, 4) = [1, .75, .5, .25] shifted with mu = 1.15
        assertThat(s.sigmas()).containsExactly(new double[] {1, 0.904531, 0.759511, 0.512844, 0}, within(TOL));
    }

    @Test
    void anchorPresetsAreTheLiteralValues() {
        assertThat(AnchorPreset.SD35.anchors()).containsExactly(1, 0.9, 0.75, 0.5);
        assertThat(AnchorPreset.FLUX.anchors()).containsExactly(1, 0.904, 0.759, 0.512);
        assertThat(AnchorPreset.sdxlTimesteps()).containsExactly(999, 749, 499, 249);
    }
}
