package io.senseflow.schedule;

import io.senseflow.noise.RandomStream;

/**
 * Draws training noise levels in the flow convention. Implementations are immutable; the randomness comes from
 * the {@link RandomStream} passed in, so a draw is reproducible from the stream's seed and position.
 *
 * <p>Its implementations are immutable records (the randomness comes from the stream the caller passes): safe to share
 * between threads.
 */
@FunctionalInterface
public interface TimestepSampler {

    /**
     * @param rng the random source
     * @return one noise level in [0, 1]
     */
    double sample(RandomStream rng);

    /**
     * @param n how many
     * @param rng the random source
     * @return {@code n} independent draws
     */
    default double[] sample(int n, RandomStream rng) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = sample(rng);
        }
        return out;
    }

    /**
     * Uniform on [lo, hi].
     *
     * @param lo lower end
     * @param hi upper end
     * @return the sampler
     */
    static TimestepSampler uniform(double lo, double hi) {
        return new UniformTimesteps(lo, hi);
    }

    /**
     * Uniform over integer indices [lo, hi] of a 1000-step table (uniform in index, not in level), as SD3.5 and
     * SDXL distillation draw the DMD noise level (§4.2: indices 20..980).
     *
     * @param grid the table
     * @param lo lowest index, inclusive
     * @param hi highest index, inclusive
     * @return the sampler
     */
    static TimestepSampler tableIndex(SigmaGrid grid, int lo, int hi) {
        return new TableIndexTimesteps(grid, lo, hi);
    }

    /**
     * Logit-normal: {@code sigmoid(m + s z)}, {@code z ~ N(0, 1)}, then a shift.
     *
     * @param mean location m
     * @param std scale s
     * @param shift applied to each draw (use {@link Shift#none()} for none)
     * @return the sampler
     */
    static TimestepSampler logitNormal(double mean, double std, Shift shift) {
        return new LogitNormalTimesteps(mean, std, shift);
    }
}
