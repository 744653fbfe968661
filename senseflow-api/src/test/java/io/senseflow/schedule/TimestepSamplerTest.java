package io.senseflow.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Ranges and moments of the timestep samplers, with fixed seeds. */
class TimestepSamplerTest {
    private static final int N = 200_000;

    private static double mean(double[] v) {
        return Arrays.stream(v).average().orElseThrow();
    }

    private static double variance(double[] v) {
        double m = mean(v);
        return Arrays.stream(v).map(x -> (x - m) * (x - m)).sum() / (v.length - 1);
    }

    @Test
    void uniformCoversItsRangeWithTheRightMoments() {
        double[] v = TimestepSampler.uniform(0.2, 0.6).sample(N, new RandomStream(1, 0, 0));
        assertThat(Arrays.stream(v).min().orElseThrow()).isGreaterThanOrEqualTo(0.2).isLessThan(0.201);
        assertThat(Arrays.stream(v).max().orElseThrow()).isLessThanOrEqualTo(0.6).isGreaterThan(0.599);
        assertThat(mean(v)).isCloseTo(0.4, within(0.002));
        assertThat(variance(v)).isCloseTo(0.16 / 12, within(0.0003));
    }

    @Test
    void sd35DmdSamplerIsUniformInTableIndexNotInSigma() {
        SigmaGrid table = SigmaGrid.trainingTable(Shift.fixed(3), 0);
        double[] v = TimestepSampler.tableIndex(table, 20, 980).sample(N, new RandomStream(2, 0, 0));
        assertThat(Arrays.stream(v).min().orElseThrow()).isCloseTo(0.060461, within(1e-6));
        assertThat(Arrays.stream(v).max().orElseThrow()).isCloseTo(0.993585, within(1e-6));
        // docs/algorithm.md §4.2: mean 0.684 for SD3.5 (uniform in s would give 0.527)
        assertThat(mean(v)).isCloseTo(0.684, within(0.003));
        // every value is a table entry
        assertThat(Arrays.stream(v).allMatch(s -> Math.abs(table.level(table.nearestIndex(s)) - s) == 0)).isTrue();
    }

    @Test
    void logitNormalHasTheLogitMomentsAndTheShiftMovesItUp() {
        double[] v = TimestepSampler.logitNormal(0, 1, Shift.none()).sample(N, new RandomStream(3, 0, 0));
        double[] logits = Arrays.stream(v).map(s -> Math.log(s / (1 - s))).toArray();
        assertThat(mean(logits)).isCloseTo(0, within(0.01));
        assertThat(variance(logits)).isCloseTo(1, within(0.015));
        assertThat(mean(v)).isCloseTo(0.5, within(0.003));
        double[] shifted = TimestepSampler.logitNormal(0, 1, Shift.fixed(3)).sample(N, new RandomStream(3, 0, 0));
        for (int i = 0; i < 100; i++) {
            assertThat(shifted[i]).isCloseTo(Schedules.shift(v[i], 3), within(1e-12));
        }
        assertThat(mean(shifted)).isGreaterThan(0.65);
    }

    @Test
    void anchorSamplerIsUniformOverAnchors() {
        AnchorTimesteps a = new AnchorTimesteps(AnchorPreset.SD35.anchors());
        int[] counts = new int[4];
        RandomStream rng = new RandomStream(4, 0, 0);
        for (int i = 0; i < 40_000; i++) {
            counts[a.sampleIndex(rng)]++;
        }
        for (int c : counts) {
            assertThat(c).isBetween(9_700, 10_300);
        }
    }

    @Test
    void intraSegmentPointsAreStrictlyInsideWithTheMargin() {
        SigmaGrid table = SigmaGrid.trainingTable(Shift.fixed(3), 0);
        IntraSegmentTimesteps isg = new IntraSegmentTimesteps(AnchorPreset.SD35.anchors(), table, 50);
        RandomStream rng = new RandomStream(5, 0, 0);
        // anchor indices in the table: 1 -> 999, 0.9 -> 749, 0.75 -> 499, 0.5 -> 249; last segment ends at index 0
        int[][] ranges = {{799, 949}, {549, 699}, {299, 449}, {50, 199}};
        for (int seg = 0; seg < 4; seg++) {
            int lo = Integer.MAX_VALUE;
            int hi = Integer.MIN_VALUE;
            for (int i = 0; i < 20_000; i++) {
                double s = isg.sample(seg, rng);
                int idx = table.nearestIndex(s);
                lo = Math.min(lo, idx);
                hi = Math.max(hi, idx);
                assertThat(s).isLessThan(AnchorPreset.SD35.anchors()[seg]).isGreaterThan(isg.segmentEnd(seg));
            }
            assertThat(new int[] {lo, hi}).as("segment %d", seg).containsExactly(ranges[seg]);
        }
        assertThat(isg.segmentEnd(3)).isCloseTo(0.002994, within(1e-6));
    }

    @Test
    void fluxIntraSegmentUsesTheLinearGrid() {
        IntraSegmentTimesteps isg = new IntraSegmentTimesteps(AnchorPreset.FLUX.anchors(), SigmaGrid.linear(1000), 20);
        RandomStream rng = new RandomStream(6, 0, 0);
        double min = 1;
        double max = 0;
        for (int i = 0; i < 20_000; i++) {
            double s = isg.sample(0, rng);
            min = Math.min(min, s);
            max = Math.max(max, s);
            assertThat(s * 1000).isCloseTo(Math.rint(s * 1000), within(1e-9));
        }
        assertThat(min).isCloseTo(0.924, within(1e-12));
        assertThat(max).isCloseTo(0.980, within(1e-12));
        assertThat(isg.segmentEnd(3)).isZero();
    }

    @Test
    void marginsThatLeaveNoRoomAreRejected() {
        assertThatThrownBy(() -> new IntraSegmentTimesteps(new double[] {1, 0.99}, SigmaGrid.linear(1000), 20))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("ISG margin");
    }

    @Test
    void drawsAreReproducibleFromSeedAndPosition() {
        TimestepSampler ln = TimestepSampler.logitNormal(0, 1, Shift.none());
        assertThat(ln.sample(10, new RandomStream(9, 3, 7))).containsExactly(ln.sample(10, new RandomStream(9, 3, 7)));
        assertThat(ln.sample(10, new RandomStream(9, 3, 7))).isNotEqualTo(ln.sample(10, new RandomStream(9, 3, 8)));
    }
}
