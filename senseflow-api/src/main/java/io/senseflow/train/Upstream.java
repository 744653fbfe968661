package io.senseflow.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;

/**
 * Where a backward pass starts: the gradient of some loss with respect to the module's output.
 *
 * <p>Either an {@link Explicit} tensor computed in Java from earlier forwards (the module must then recompute its
 * forward inside {@code backward}), or one of a few loss forms the backend evaluates in the same run as the
 * forward — so the fake-score and discriminator updates cost one forward+backward. For the in-graph forms the
 * module defines how its output elements are averaged (a multi-head discriminator averages each head's logit
 * grid, then the heads); single-output modules average over all elements. Optional per-sample {@code weights}
 * multiply each sample's contribution (the GAN time weight {@code omega(s_i)}).
 *
 * <p>Its implementations are immutable records: safe to share between threads.
 */
public sealed interface Upstream permits Upstream.Explicit, Upstream.Linear, Upstream.Mse, Upstream.Hinge {

    /**
     * @param gradient dL/d(output), same shape as the output
     * @return the explicit upstream
     */
    static Upstream explicit(Tensor gradient) {
        return new Explicit(gradient);
    }

    /**
     * {@code L = scale * mean(w_b * out)}: a constant gradient (the generator's GAN term uses scale {@code -w_gan}).
     *
     * @param scale the scale
     * @param weights per-sample weights, or null for 1
     * @return the upstream
     */
    static Upstream linear(double scale, float[] weights) {
        return new Linear(scale, weights);
    }

    /**
     * {@code L = mean(w_b * (out - target)^2)} (the fake-score flow-matching loss, docs/algorithm.md §4.7).
     *
     * @param target the regression target, same shape as the output
     * @param weights per-sample weights, or null
     * @return the upstream
     */
    static Upstream mse(Tensor target, float[] weights) {
        return new Mse(target, weights);
    }

    /**
     * Hinge: {@code L = mean(w_b * relu(1 - sign * out))}; {@code sign = +1} for real samples, {@code -1} for
     * generated ones (docs/algorithm.md §4.8).
     *
     * @param sign +1 or -1
     * @param weights per-sample weights, or null
     * @return the upstream
     */
    static Upstream hinge(int sign, float[] weights) {
        return new Hinge(sign, weights);
    }

    /** @return per-sample weights, or null */
    float[] weights();

    /**
     * An explicit gradient.
     *
     * @param gradient dL/d(output)
     */
    record Explicit(Tensor gradient) implements Upstream {
        public Explicit {
            if (gradient == null) {
                throw InvalidRequestException.of("upstream gradient", "a tensor", "null");
            }
        }

        @Override
        public float[] weights() {
            return null;
        }
    }

    /**
     * A linear loss.
     *
     * @param scale scale
     * @param weights per-sample weights or null
     */
    record Linear(double scale, float[] weights) implements Upstream {
    }

    /**
     * Mean squared error to a target.
     *
     * @param target target
     * @param weights per-sample weights or null
     */
    record Mse(Tensor target, float[] weights) implements Upstream {
        public Mse {
            if (target == null) {
                throw InvalidRequestException.of("mse target", "a tensor", "null");
            }
        }
    }

    /**
     * A hinge loss.
     *
     * @param sign +1 (real) or -1 (fake)
     * @param weights per-sample weights or null
     */
    record Hinge(int sign, float[] weights) implements Upstream {
        public Hinge {
            if (sign != 1 && sign != -1) {
                throw InvalidRequestException.of("hinge sign", "+1 or -1", sign);
            }
        }
    }
}
