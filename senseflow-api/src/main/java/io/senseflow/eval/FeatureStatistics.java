package io.senseflow.eval;

import io.senseflow.InvalidRequestException;

/**
 * Mean and covariance of a set of feature vectors (the sufficient statistics of a Fréchet distance), accumulated in
 * double precision.
 *
 * <p>Safe to share between threads as long as nobody writes into its arrays (they are not copied).
 *
 * @param count number of vectors
 * @param mean the mean, length d
 * @param covariance the unbiased covariance, d x d
 */
public record FeatureStatistics(int count, double[] mean, double[][] covariance) {

    /**
     * @param features {@code [n][d]} feature vectors, n at least 2
     * @return their statistics
     */
    public static FeatureStatistics of(double[][] features) {
        int n = features.length;
        if (n < 2) {
            throw InvalidRequestException.of("features", "at least 2 vectors", n);
        }
        int d = features[0].length;
        double[] mean = new double[d];
        for (double[] f : features) {
            if (f.length != d) {
                throw InvalidRequestException.of("features", d + " values per vector", f.length);
            }
            for (int i = 0; i < d; i++) {
                mean[i] += f[i] / n;
            }
        }
        double[][] cov = new double[d][d];
        double[] c = new double[d];
        for (double[] f : features) {
            for (int i = 0; i < d; i++) {
                c[i] = f[i] - mean[i];
            }
            for (int i = 0; i < d; i++) {
                double ci = c[i];
                double[] row = cov[i];
                for (int j = i; j < d; j++) {
                    row[j] += ci * c[j];
                }
            }
        }
        for (int i = 0; i < d; i++) {
            for (int j = i; j < d; j++) {
                cov[i][j] /= n - 1;
                cov[j][i] = cov[i][j];
            }
        }
        return new FeatureStatistics(n, mean, cov);
    }

    /** @return the feature dimension */
    public int dimension() {
        return mean.length;
    }
}
