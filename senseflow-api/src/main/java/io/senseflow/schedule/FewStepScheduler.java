package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;
import java.util.Arrays;

/**
 * The sampler of a distilled SenseFlow generator (docs/algorithm.md §3): start from pure noise at the first anchor,
 * predict {@code x0 = x - s_k v} at each anchor and re-noise it to the next anchor with fresh noise
 * ({@link SamplingMode#STOCHASTIC}, the default), or take Euler steps between anchors ending at 0
 * ({@link SamplingMode#EULER}). No classifier-free guidance: guidance is distilled in.
 *
 * <p>Asking for fewer steps than anchors uses an evenly spaced subset that keeps the first anchor (for K = 4:
 * 1 step uses anchor 0, 2 steps anchors 0 and 3, 3 steps anchors 0, 2 and 3 — rounding {@code k (K-1)/(N-1)});
 * those are off the schedule the generator was trained on. More steps than anchors is refused: pass explicit
 * sigmas instead.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param anchors the anchors, strictly decreasing in (0, 1]
 * @param mode stochastic (default) or Euler
 */
public record FewStepScheduler(double[] anchors, SamplingMode mode) implements Scheduler {

    public FewStepScheduler {
        anchors = validateAnchors(anchors, "anchors");
        if (mode == null) {
            throw new InvalidRequestException("FewStepScheduler: mode is required");
        }
    }

    /** @param preset released anchors @return the stochastic few-step scheduler on them */
    public static FewStepScheduler of(AnchorPreset preset) {
        return new FewStepScheduler(preset.anchors(), SamplingMode.STOCHASTIC);
    }

    /** @param anchors custom anchors @return the stochastic few-step scheduler on them */
    public static FewStepScheduler of(double... anchors) {
        return new FewStepScheduler(anchors, SamplingMode.STOCHASTIC);
    }

    /** @param newMode the mode @return this scheduler with another sampling mode */
    public FewStepScheduler withMode(SamplingMode newMode) {
        return new FewStepScheduler(anchors, newMode);
    }

    @Override
    public double[] anchors() {
        return anchors.clone();
    }

    @Override
    public SigmaSchedule timesteps(int numSteps, int imageTokens) {
        int k = anchors.length;
        if (numSteps < 1 || numSteps > k) {
            throw InvalidRequestException.of("numSteps", "between 1 and the " + k + " anchors " + Arrays.toString(anchors)
                    + " (use explicit sigmas for other schedules)", numSteps);
        }
        double[] s = new double[numSteps + 1];
        for (int i = 0; i < numSteps; i++) {
            int idx = numSteps == 1 ? 0 : (int) Math.round(i * (k - 1) / (double) (numSteps - 1));
            s[i] = anchors[idx];
        }
        return SigmaSchedule.withTerminal(s);
    }

    /**
     * Checks anchors: at least one, strictly decreasing, in (0, 1].
     *
     * @param anchors the anchors
     * @param field the field name for messages
     * @return a defensive copy
     */
    public static double[] validateAnchors(double[] anchors, String field) {
        if (anchors == null || anchors.length == 0) {
            throw InvalidRequestException.of(field, "at least one anchor", "none");
        }
        for (int i = 0; i < anchors.length; i++) {
            if (!(anchors[i] > 0 && anchors[i] <= 1)) {
                throw InvalidRequestException.of(field + "[" + i + "]", "a value in (0, 1]", anchors[i]);
            }
            if (i > 0 && !(anchors[i] < anchors[i - 1])) {
                throw InvalidRequestException.of(field, "strictly decreasing values", Arrays.toString(anchors));
            }
        }
        return anchors.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof FewStepScheduler f && Arrays.equals(anchors, f.anchors) && mode == f.mode;
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(anchors) + mode.hashCode();
    }

    @Override
    public String toString() {
        return "FewStepScheduler" + Arrays.toString(anchors) + " " + mode;
    }
}
