package io.senseflow.train;

import io.senseflow.InvalidRequestException;

/**
 * Linear warm-up to a peak, then constant or cosine decay. Step {@code t} is 0-based: during warm-up the rate is
 * {@code peak * (t + 1) / warmup}; the released SenseFlow setups use a constant 1e-6 after 500 warm-up steps.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param peak the rate after warm-up
 * @param warmupSteps warm-up length (0 for none)
 * @param decay constant or cosine after warm-up
 * @param totalSteps for cosine: the step where the rate reaches {@code minimum}
 * @param minimum for cosine: the final rate
 */
public record LearningRateSchedule(double peak, int warmupSteps, Decay decay, long totalSteps, double minimum) {

    /** What happens after warm-up. */
    public enum Decay {
        /** Stay at the peak. */
        CONSTANT,
        /** Half-cosine from the peak to the minimum at {@code totalSteps}. */
        COSINE
    }

    public LearningRateSchedule {
        if (!(peak >= 0) || warmupSteps < 0 || decay == null || !(minimum >= 0)
                || (decay == Decay.COSINE && totalSteps <= warmupSteps)) {
            throw InvalidRequestException.of("learning-rate schedule",
                    "peak >= 0, warmup >= 0, and totalSteps > warmup for cosine",
                    "peak " + peak + ", warmup " + warmupSteps + ", " + decay + ", total " + totalSteps);
        }
    }

    /** @param rate the rate @param warmup warm-up steps @return warm-up then constant */
    public static LearningRateSchedule constant(double rate, int warmup) {
        return new LearningRateSchedule(rate, warmup, Decay.CONSTANT, 0, 0);
    }

    /**
     * @param rate peak rate
     * @param warmup warm-up steps
     * @param total steps until {@code minimum}
     * @param minimum final rate
     * @return warm-up then cosine
     */
    public static LearningRateSchedule cosine(double rate, int warmup, long total, double minimum) {
        return new LearningRateSchedule(rate, warmup, Decay.COSINE, total, minimum);
    }

    /** @param step 0-based step @return the rate at that step */
    public double rate(long step) {
        if (step < warmupSteps) {
            return peak * (step + 1) / warmupSteps;
        }
        if (decay == Decay.CONSTANT) {
            return peak;
        }
        double progress = Math.min(1.0, (step - warmupSteps) / (double) (totalSteps - warmupSteps));
        return minimum + 0.5 * (peak - minimum) * (1 + Math.cos(Math.PI * progress));
    }
}
