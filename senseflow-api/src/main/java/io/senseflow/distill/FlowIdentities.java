package io.senseflow.distill;

import io.senseflow.tensor.Tensor;

/**
 * The rectified-flow identities the distillation loop is made of (docs/algorithm.md §1, §4), written once. A clean
 * sample {@code x0} and noise {@code eps} meet on the straight line {@code x_s = (1 - s) x0 + s eps}; its velocity is
 * {@code v = eps - x0}, so a velocity prediction at {@code (x, s)} gives the clean sample {@code x0 = x - s v}, and an
 * Euler step from {@code s} to {@code s'} is {@code x + (s' - s) v}.
 *
 * <p>Per-sample levels are {@code float}s and every coefficient is formed in float arithmetic ({@code 1 - s},
 * {@code -s}, {@code s' - s}) before one {@link Tensor#combine} pass, so the results are the same bits wherever the
 * loop, an objective or a probe uses them.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class FlowIdentities {
    private FlowIdentities() {
    }

    /**
     * Forward noising: {@code x_s = (1 - s) x0 + s eps}, per sample.
     *
     * @param x0 clean samples
     * @param s one level per sample
     * @param eps standard normal noise shaped like {@code x0}
     * @return the noised samples
     */
    public static Tensor noised(Tensor x0, float[] s, Tensor eps) {
        float[] oneMinus = new float[s.length];
        for (int b = 0; b < s.length; b++) {
            oneMinus[b] = 1 - s[b];
        }
        return Tensor.combine(oneMinus, x0, s, eps);
    }

    /**
     * Forward noising at one level for the whole batch: {@code x_s = (1 - s) x0 + s eps}.
     *
     * @param x0 clean samples
     * @param s the level
     * @param eps noise shaped like {@code x0}
     * @return the noised samples
     */
    public static Tensor noised(Tensor x0, float s, Tensor eps) {
        return Tensor.combine(1 - s, x0, s, eps);
    }

    /**
     * The clean sample a velocity predicts: {@code x0 = x - s v}, per sample.
     *
     * @param x states
     * @param s one level per sample
     * @param v velocities at {@code (x, s)}
     * @return the clean-sample prediction
     */
    public static Tensor clean(Tensor x, float[] s, Tensor v) {
        float[] ones = new float[s.length];
        float[] minusS = new float[s.length];
        for (int b = 0; b < s.length; b++) {
            ones[b] = 1f;
            minusS[b] = -s[b];
        }
        return Tensor.combine(ones, x, minusS, v);
    }

    /**
     * The clean sample a velocity predicts at one level for the whole batch: {@code x0 = x - s v}.
     *
     * @param x states
     * @param s the level
     * @param v velocities at {@code (x, s)}
     * @return the clean-sample prediction
     */
    public static Tensor clean(Tensor x, float s, Tensor v) {
        return Tensor.combine(1f, x, -s, v);
    }

    /**
     * The flow-matching target: the velocity of the line through {@code x0} and {@code eps}, {@code eps - x0}.
     *
     * @param x0 clean samples
     * @param eps the noise they were noised with
     * @return {@code eps - x0}
     */
    public static Tensor velocityTarget(Tensor x0, Tensor eps) {
        return eps.sub(x0);
    }

    /**
     * An Euler step along a velocity, per sample: {@code x + (to - from) v}.
     *
     * @param x states at {@code from}
     * @param from each sample's level now
     * @param to each sample's level after the step
     * @param v velocities at {@code (x, from)}
     * @return the states at {@code to}
     */
    public static Tensor step(Tensor x, float[] from, float[] to, Tensor v) {
        float[] ones = new float[from.length];
        float[] delta = new float[from.length];
        for (int b = 0; b < from.length; b++) {
            ones[b] = 1f;
            delta[b] = to[b] - from[b];
        }
        return Tensor.combine(ones, x, delta, v);
    }
}
