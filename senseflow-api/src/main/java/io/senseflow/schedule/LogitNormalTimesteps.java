package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;

/**
 * Logit-normal noise levels {@code sigmoid(mean + std z)} followed by a shift (SD3.5's fake-score sampler is
 * logit-normal(0, 1) then shift 3, docs/algorithm.md §4.7; FLUX's is unshifted).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param mean location
 * @param std scale, positive
 * @param shift shift applied to each draw
 */
public record LogitNormalTimesteps(double mean, double std, Shift shift) implements TimestepSampler {
    public LogitNormalTimesteps {
        if (!(std > 0) || !Double.isFinite(mean) || shift == null) {
            throw InvalidRequestException.of("logit-normal", "finite mean, positive std and a shift", mean + ", " + std);
        }
    }

    @Override
    public double sample(RandomStream rng) {
        double z = mean + std * rng.nextGaussian();
        double s = 1 / (1 + Math.exp(-z));
        return shift.apply(s, 0);
    }
}
