package io.senseflow.eval;

import io.senseflow.InvalidRequestException;

/**
 * The Fréchet distance between two Gaussians fitted to feature sets (the statistic behind FID):
 * {@code |mu1 - mu2|^2 + Tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2)}. The matrix square roots come from a Jacobi
 * eigen-decomposition of symmetric matrices in double precision; tiny negative eigenvalues from rounding are
 * treated as 0.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class FrechetDistance {
    private FrechetDistance() {
    }

    /**
     * @param a statistics of one set
     * @param b statistics of the other, same dimension
     * @return the distance (non-negative up to rounding)
     */
    public static double between(FeatureStatistics a, FeatureStatistics b) {
        int d = a.dimension();
        if (b.dimension() != d) {
            throw InvalidRequestException.of("feature dimension", Integer.toString(d), b.dimension());
        }
        double meanTerm = 0;
        for (int i = 0; i < d; i++) {
            double diff = a.mean()[i] - b.mean()[i];
            meanTerm += diff * diff;
        }
        double trace = 0;
        for (int i = 0; i < d; i++) {
            trace += a.covariance()[i][i] + b.covariance()[i][i];
        }
        double[][] sqrtA = SymmetricEigen.sqrt(a.covariance());
        double[][] m = multiply(multiply(sqrtA, b.covariance()), sqrtA);
        symmetrize(m);
        double[] eig = SymmetricEigen.eigenvalues(m);
        double cross = 0;
        for (double e : eig) {
            cross += Math.sqrt(Math.max(e, 0));
        }
        return meanTerm + trace - 2 * cross;
    }

    /**
     * @param a feature vectors of one set
     * @param b feature vectors of the other
     * @return the Fréchet distance of their Gaussian fits
     */
    public static double between(double[][] a, double[][] b) {
        return between(FeatureStatistics.of(a), FeatureStatistics.of(b));
    }

    static double[][] multiply(double[][] x, double[][] y) {
        int n = x.length;
        int k = y.length;
        int m = y[0].length;
        double[][] out = new double[n][m];
        for (int i = 0; i < n; i++) {
            double[] oi = out[i];
            for (int p = 0; p < k; p++) {
                double xip = x[i][p];
                double[] yp = y[p];
                for (int j = 0; j < m; j++) {
                    oi[j] += xip * yp[j];
                }
            }
        }
        return out;
    }

    private static void symmetrize(double[][] m) {
        for (int i = 0; i < m.length; i++) {
            for (int j = i + 1; j < m.length; j++) {
                double v = 0.5 * (m[i][j] + m[j][i]);
                m[i][j] = v;
                m[j][i] = v;
            }
        }
    }
}
