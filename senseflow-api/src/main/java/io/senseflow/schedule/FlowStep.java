package io.senseflow.schedule;

import io.senseflow.tensor.Tensor;
import java.util.function.Supplier;

/**
 * The two flow updates of docs/algorithm.md §2-§3 as plain functions.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class FlowStep {
    private FlowStep() {
    }

    /**
     * @param mode Euler or stochastic
     * @param x the state at level {@code s}
     * @param v the velocity at {@code (x, s)}
     * @param s current level
     * @param next next level
     * @param freshNoise fresh noise for stochastic re-noising (not called when {@code next == 0})
     * @return the state at {@code next}
     */
    public static Tensor step(SamplingMode mode, Tensor x, Tensor v, double s, double next, Supplier<Tensor> freshNoise) {
        if (mode == SamplingMode.EULER) {
            return x.addScaled((float) (next - s), v);
        }
        Tensor x0 = predictX0(x, v, s);
        if (next == 0) {
            return x0;
        }
        return Tensor.combine((float) (1 - next), x0, (float) next, freshNoise.get());
    }

    /** @param x state @param v velocity @param s level @return {@code x0 = x - s v} */
    public static Tensor predictX0(Tensor x, Tensor v, double s) {
        return x.addScaled((float) -s, v);
    }
}
