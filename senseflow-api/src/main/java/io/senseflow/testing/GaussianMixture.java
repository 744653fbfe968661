package io.senseflow.testing;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;

/**
 * An isotropic Gaussian mixture in {@code d} dimensions and the exact flow-matching velocity field of its noised
 * marginals — a teacher with a closed form, no training, used to test samplers and distillation.
 *
 * <p>Under {@code x_s = (1 - s) x0 + s eps}, component {@code k} (mean {@code mu_k}, variance {@code sigma^2}) noises
 * to {@code N((1 - s) mu_k, v_s I)} with {@code v_s = (1 - s)^2 sigma^2 + s^2}. Given {@code x} and {@code k}:
 * {@code E[x0] = mu_k + (1 - s) sigma^2 / v_s (x - (1 - s) mu_k)} and {@code E[eps] = s / v_s (x - (1 - s) mu_k)},
 * so the velocity {@code E[eps - x0 | x_s]} is the posterior-weighted sum over components of
 * {@code (s - (1 - s) sigma^2) / v_s (x - (1 - s) mu_k) - mu_k}.
 *
 * <p>Conditioning restricts the mixture to a subset of components (a "prompt" selects modes), renormalising the
 * weights.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class GaussianMixture {
    private final double[][] means;
    private final double[] weights;
    private final double std;

    /**
     * @param means component means {@code [K][d]}
     * @param weights component weights (normalised here), positive
     * @param std the components' standard deviation, positive
     */
    public GaussianMixture(double[][] means, double[] weights, double std) {
        if (means.length == 0 || weights.length != means.length || !(std > 0)) {
            throw InvalidRequestException.of("mixture", "K >= 1 means, K weights, positive std",
                    means.length + " means, " + weights.length + " weights, std " + std);
        }
        double total = 0;
        for (double w : weights) {
            if (!(w > 0)) {
                throw InvalidRequestException.of("weights", "positive values", w);
            }
            total += w;
        }
        this.means = new double[means.length][];
        for (int k = 0; k < means.length; k++) {
            if (means[k].length != means[0].length) {
                throw InvalidRequestException.of("means[" + k + "]", means[0].length + " dimensions", means[k].length);
            }
            this.means[k] = means[k].clone();
        }
        this.weights = new double[weights.length];
        for (int k = 0; k < weights.length; k++) {
            this.weights[k] = weights[k] / total;
        }
        this.std = std;
    }

    /**
     * The 2-D test distribution of the distillation experiments: {@code modes} equal-weight components on a circle.
     *
     * @param modes number of components
     * @param radius circle radius
     * @param std component standard deviation
     * @return the mixture
     */
    public static GaussianMixture ring(int modes, double radius, double std) {
        double[][] m = new double[modes][2];
        double[] w = new double[modes];
        for (int k = 0; k < modes; k++) {
            double a = 2 * Math.PI * k / modes;
            m[k][0] = radius * Math.cos(a);
            m[k][1] = radius * Math.sin(a);
            w[k] = 1;
        }
        return new GaussianMixture(m, w, std);
    }

    /** @return number of components */
    public int components() {
        return means.length;
    }

    /** @return dimensionality */
    public int dimension() {
        return means[0].length;
    }

    /** @param k component @return its mean (a copy) */
    public double[] mean(int k) {
        return means[k].clone();
    }

    /** @return the component standard deviation */
    public double std() {
        return std;
    }

    /**
     * The exact velocity at one point.
     *
     * @param x the state, length d
     * @param s noise level in [0, 1]
     * @param allowed which components the condition allows (null for all)
     * @param out receives the velocity, length d
     */
    public void velocity(double[] x, double s, boolean[] allowed, double[] out) {
        int d = dimension();
        double vs = (1 - s) * (1 - s) * std * std + s * s;
        double coef = (s - (1 - s) * std * std) / vs;
        double[] logr = new double[means.length];
        double maxLog = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < means.length; k++) {
            if (allowed != null && !allowed[k]) {
                logr[k] = Double.NEGATIVE_INFINITY;
                continue;
            }
            double sq = 0;
            for (int i = 0; i < d; i++) {
                double diff = x[i] - (1 - s) * means[k][i];
                sq += diff * diff;
            }
            logr[k] = Math.log(weights[k]) - 0.5 * sq / vs;
            maxLog = Math.max(maxLog, logr[k]);
        }
        if (maxLog == Double.NEGATIVE_INFINITY) {
            throw new InvalidRequestException("mixture condition allows no component");
        }
        double z = 0;
        for (int k = 0; k < means.length; k++) {
            logr[k] = Math.exp(logr[k] - maxLog);
            z += logr[k];
        }
        java.util.Arrays.fill(out, 0, d, 0);
        for (int k = 0; k < means.length; k++) {
            double r = logr[k] / z;
            if (r == 0) {
                continue;
            }
            for (int i = 0; i < d; i++) {
                out[i] += r * (coef * (x[i] - (1 - s) * means[k][i]) - means[k][i]);
            }
        }
    }

    /**
     * Exact samples of the (conditioned) mixture.
     *
     * @param n how many
     * @param allowed allowed components (null for all)
     * @param rng random source
     * @return {@code [n][d]} samples
     */
    public double[][] sample(int n, boolean[] allowed, RandomStream rng) {
        double[] w = conditionedWeights(allowed);
        double[][] out = new double[n][dimension()];
        for (int j = 0; j < n; j++) {
            double u = rng.nextUniform();
            int k = 0;
            double acc = w[0];
            while (u > acc && k < w.length - 1) {
                k++;
                acc += w[k];
            }
            for (int i = 0; i < dimension(); i++) {
                out[j][i] = means[k][i] + std * rng.nextGaussian();
            }
        }
        return out;
    }

    /** @param allowed allowed components (null for all) @return the mean of the conditioned mixture */
    public double[] mean(boolean[] allowed) {
        double[] w = conditionedWeights(allowed);
        double[] m = new double[dimension()];
        for (int k = 0; k < means.length; k++) {
            for (int i = 0; i < m.length; i++) {
                m[i] += w[k] * means[k][i];
            }
        }
        return m;
    }

    /** @param allowed allowed components (null for all) @return the covariance of the conditioned mixture */
    public double[][] covariance(boolean[] allowed) {
        double[] w = conditionedWeights(allowed);
        double[] m = mean(allowed);
        int d = dimension();
        double[][] c = new double[d][d];
        for (int k = 0; k < means.length; k++) {
            for (int i = 0; i < d; i++) {
                for (int j = 0; j < d; j++) {
                    c[i][j] += w[k] * (means[k][i] - m[i]) * (means[k][j] - m[j]);
                }
                c[i][i] += w[k] * std * std;
            }
        }
        return c;
    }

    /** @param allowed allowed components (null for all) @return the renormalised weights */
    public double[] conditionedWeights(boolean[] allowed) {
        double[] w = weights.clone();
        if (allowed == null) {
            return w;
        }
        double total = 0;
        for (int k = 0; k < w.length; k++) {
            if (!allowed[k]) {
                w[k] = 0;
            }
            total += w[k];
        }
        if (total == 0) {
            throw new InvalidRequestException("mixture condition allows no component");
        }
        for (int k = 0; k < w.length; k++) {
            w[k] /= total;
        }
        return w;
    }

    /**
     * @param x a point
     * @return the index of the nearest component mean
     */
    public int nearestComponent(double[] x) {
        int best = 0;
        double bestD = Double.POSITIVE_INFINITY;
        for (int k = 0; k < means.length; k++) {
            double sq = 0;
            for (int i = 0; i < x.length; i++) {
                double diff = x[i] - means[k][i];
                sq += diff * diff;
            }
            if (sq < bestD) {
                bestD = sq;
                best = k;
            }
        }
        return best;
    }
}
