package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;

/**
 * Uniform noise levels on [lo, hi].
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param lo lower end
 * @param hi upper end
 */
public record UniformTimesteps(double lo, double hi) implements TimestepSampler {
    public UniformTimesteps {
        if (!(lo >= 0 && hi <= 1 && lo <= hi)) {
            throw InvalidRequestException.of("uniform range", "0 <= lo <= hi <= 1", "[" + lo + ", " + hi + "]");
        }
    }

    @Override
    public double sample(RandomStream rng) {
        return rng.nextUniform(lo, hi);
    }
}
