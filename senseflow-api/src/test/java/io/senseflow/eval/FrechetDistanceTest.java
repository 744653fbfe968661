package io.senseflow.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.noise.RandomStream;
import org.junit.jupiter.api.Test;

class FrechetDistanceTest {

    private static double[][] gaussian(int n, double[] mean, double[] std, long seed) {
        RandomStream r = new RandomStream(seed, 3, 0);
        double[][] x = new double[n][mean.length];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < mean.length; j++) {
                x[i][j] = mean[j] + std[j] * r.nextGaussian();
            }
        }
        return x;
    }

    @Test
    void aSetHasZeroDistanceToItself() {
        double[][] x = gaussian(500, new double[] {1, 2, 3, 4}, new double[] {1, 0.5, 2, 1}, 1);
        // mix the coordinates so the covariance is not diagonal
        for (double[] v : x) {
            v[1] += 0.7 * v[0];
            v[3] -= 0.3 * v[2];
        }
        assertThat(FrechetDistance.between(x, x)).isCloseTo(0, within(1e-9));
    }

    @Test
    void shiftedAndScaledGaussiansMatchTheClosedForm() {
        // exact statistics: FD = |m1 - m2|^2 + sum_i (s1_i - s2_i)^2 for diagonal covariances
        double[] m1 = {0, 0, 0};
        double[] m2 = {1, -2, 0.5};
        double[][] c1 = {{1, 0, 0}, {0, 4, 0}, {0, 0, 0.25}};
        double[][] c2 = {{4, 0, 0}, {0, 1, 0}, {0, 0, 0.25}};
        double want = (1 + 4 + 0.25) + (1 + 1 + 0);
        double got = FrechetDistance.between(new FeatureStatistics(2, m1, c1), new FeatureStatistics(2, m2, c2));
        assertThat(got).isCloseTo(want, within(1e-12));
        // a rotated pair with full covariances: FD is invariant to a common rotation
        double a = 0.6;
        double[][] rot = {{Math.cos(a), -Math.sin(a), 0}, {Math.sin(a), Math.cos(a), 0}, {0, 0, 1}};
        double[][] rotT = {{Math.cos(a), Math.sin(a), 0}, {-Math.sin(a), Math.cos(a), 0}, {0, 0, 1}};
        double[][] rc1 = FrechetDistance.multiply(FrechetDistance.multiply(rot, c1), rotT);
        double[][] rc2 = FrechetDistance.multiply(FrechetDistance.multiply(rot, c2), rotT);
        double[] rm2 = {Math.cos(a) * 1 - Math.sin(a) * -2, Math.sin(a) * 1 + Math.cos(a) * -2, 0.5};
        assertThat(FrechetDistance.between(new FeatureStatistics(2, m1, rc1), new FeatureStatistics(2, rm2, rc2)))
                .isCloseTo(want, within(1e-9));
    }

    @Test
    void sampledSetsApproachTheClosedForm() {
        double[][] x = gaussian(20_000, new double[] {0, 0}, new double[] {1, 1}, 2);
        double[][] y = gaussian(20_000, new double[] {0.5, 0}, new double[] {2, 1}, 3);
        assertThat(FrechetDistance.between(x, y)).isCloseTo(0.25 + 1, within(0.06));
    }
}
