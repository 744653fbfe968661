package io.senseflow.examples.research;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.schedule.TimestepSampler;

/**
 * A custom noise-level distribution written against the {@link TimestepSampler} seam: the Kumaraswamy distribution
 * on [0, 1], a Beta-like family with a closed-form inverse CDF, so one uniform draw gives one level:
 *
 * <pre>  s = (1 - (1 - u)^(1/b))^(1/a),   u ~ U(0, 1),   density a b s^(a-1) (1 - s^a)^(b-1)</pre>
 *
 * <p>{@code a = b = 1} is uniform; {@code a > b} leans towards high noise, {@code a < b} towards low noise. Levels are clamped to {@code [min, 1 - min]} so the flow never sees
 * exactly clean or exactly pure-noise inputs.
 *
 * <p>An immutable value (the randomness comes from the caller's stream): safe to share between threads.
 *
 * @param a first shape (&gt; 0)
 * @param b second shape (&gt; 0)
 * @param min the clamp margin, in [0, 0.5)
 */
public record KumaraswamyTimesteps(double a, double b, double min) implements TimestepSampler {
    public KumaraswamyTimesteps {
        if (!(a > 0 && Double.isFinite(a)) || !(b > 0 && Double.isFinite(b))) {
            throw InvalidRequestException.of("kumaraswamy shapes", "a > 0 and b > 0 (finite)", "a " + a + ", b " + b);
        }
        if (!(min >= 0 && min < 0.5)) {
            throw InvalidRequestException.of("kumaraswamy min", "a margin in [0, 0.5)", min);
        }
    }

    @Override
    public double sample(RandomStream rng) {
        return inverseCdf(rng.nextUniform());
    }

    /**
     * @param u a uniform draw in [0, 1]
     * @return the level it maps to (the inverse CDF, clamped)
     */
    public double inverseCdf(double u) {
        double s = Math.pow(1 - Math.pow(1 - u, 1 / b), 1 / a);
        return Math.min(1 - min, Math.max(min, s));
    }
}
