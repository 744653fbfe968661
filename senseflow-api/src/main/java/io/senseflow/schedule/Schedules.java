package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;

/**
 * The closed-form noise-level maps of docs/algorithm.md §2.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class Schedules {
    /** Training steps of the tables SD3/SD3.5/FLUX/SDXL were trained with. */
    public static final int TRAIN_STEPS = 1000;

    private Schedules() {
    }

    /**
     * Static shift (§2): {@code k s / (1 + (k - 1) s)}.
     *
     * @param sigma noise level
     * @param k shift factor
     * @return shifted level
     */
    public static double shift(double sigma, double k) {
        return k * sigma / (1 + (k - 1) * sigma);
    }

    /**
     * Inverse of {@link #shift}.
     *
     * @param shifted a shifted level
     * @param k shift factor
     * @return the unshifted level
     */
    public static double unshift(double shifted, double k) {
        return shifted / (k - (k - 1) * shifted);
    }

    /**
     * Dynamic shift (§2): {@code e^mu / (e^mu + (1/s - 1))}; 0 stays 0.
     *
     * @param sigma noise level
     * @param mu the resolution-dependent parameter
     * @return shifted level
     */
    public static double dynamicShift(double sigma, double mu) {
        if (sigma <= 0) {
            return 0;
        }
        double e = Math.exp(mu);
        return e / (e + (1 / sigma - 1));
    }

    /**
     * The 1000-step training table of a flow model: {@code table[i] = shift((i + 1) / 1000)}, ascending.
     *
     * @param shift the model's shift (evaluated at {@code imageTokens} for dynamic shifts)
     * @param imageTokens image token count, for dynamic shifts
     * @return 1000 ascending noise levels
     */
    public static double[] trainingTable(Shift shift, int imageTokens) {
        double[] t = new double[TRAIN_STEPS];
        for (int i = 0; i < TRAIN_STEPS; i++) {
            t[i] = shift.apply((i + 1) / (double) TRAIN_STEPS, imageTokens);
        }
        return t;
    }

    /**
     * {@code n} evenly spaced values from {@code start} to {@code end} inclusive (numpy's linspace).
     *
     * @param start first value
     * @param end last value
     * @param n count, at least 1
     * @return the values
     */
    public static double[] linspace(double start, double end, int n) {
        if (n < 1) {
            throw InvalidRequestException.of("n", ">= 1", n);
        }
        double[] out = new double[n];
        if (n == 1) {
            out[0] = start;
            return out;
        }
        double step = (end - start) / (n - 1);
        for (int i = 0; i < n; i++) {
            out[i] = start + i * step;
        }
        out[n - 1] = end;
        return out;
    }

    /**
     * The image token count of a latent grid: {@code (H / patch) * (W / patch)}.
     *
     * @param latentHeight latent rows
     * @param latentWidth latent columns
     * @param patchSize the transformer's patch size
     * @return tokens
     */
    public static int imageTokens(int latentHeight, int latentWidth, int patchSize) {
        return (latentHeight / patchSize) * (latentWidth / patchSize);
    }
}
