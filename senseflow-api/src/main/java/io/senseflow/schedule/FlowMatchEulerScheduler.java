package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;

/**
 * The many-step flow-matching sampler of SD3/SD3.5 and FLUX (docs/algorithm.md §2): Euler on the velocity (or the
 * stochastic x0-then-renoise variant), with the noise levels diffusers' {@code FlowMatchEulerDiscreteScheduler}
 * computes.
 *
 * <ul>
 *   <li>{@link Spacing#TRAINING_RANGE} (SD3/SD3.5): {@code linspace(1, table[0], N)} then the shift, where
 *       {@code table[0]} is the lowest level of the shifted 1000-step training table;</li>
 *   <li>{@link Spacing#UNIFORM} (FLUX): {@code linspace(1, 1/N, N)} then the shift.</li>
 * </ul>
 * A terminal 0 is appended. Explicit sigmas are used as given.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param shift the model's shift
 * @param spacing how the unshifted levels are spaced
 * @param mode Euler (default) or stochastic
 */
public record FlowMatchEulerScheduler(Shift shift, Spacing spacing, SamplingMode mode) implements Scheduler {

    /** How the N unshifted levels are spread before the shift. */
    public enum Spacing {
        /** From 1 down to the lowest level of the shifted training table (SD3/SD3.5 in diffusers). */
        TRAINING_RANGE,
        /** From 1 down to 1/N (FLUX in diffusers). */
        UNIFORM
    }

    public FlowMatchEulerScheduler {
        if (shift == null || spacing == null || mode == null) {
            throw new InvalidRequestException("FlowMatchEulerScheduler: shift, spacing and mode are required");
        }
    }

    /** @param k the static shift (3 for SD3/SD3.5) @return the SD3-style scheduler */
    public static FlowMatchEulerScheduler sd3(double k) {
        return new FlowMatchEulerScheduler(Shift.fixed(k), Spacing.TRAINING_RANGE, SamplingMode.EULER);
    }

    /** @return the FLUX-style scheduler with resolution-dependent shift */
    public static FlowMatchEulerScheduler flux() {
        return new FlowMatchEulerScheduler(Shift.flux(), Spacing.UNIFORM, SamplingMode.EULER);
    }

    /** @param newMode the mode @return this scheduler with another sampling mode */
    public FlowMatchEulerScheduler withMode(SamplingMode newMode) {
        return new FlowMatchEulerScheduler(shift, spacing, newMode);
    }

    @Override
    public SigmaSchedule timesteps(int numSteps, int imageTokens) {
        if (numSteps < 1) {
            throw InvalidRequestException.of("numSteps", ">= 1", numSteps);
        }
        double end = spacing == Spacing.UNIFORM
                ? 1.0 / numSteps
                : shift.apply(1.0 / Schedules.TRAIN_STEPS, imageTokens);
        double[] base = Schedules.linspace(1, end, numSteps);
        double[] sigmas = new double[numSteps + 1];
        for (int i = 0; i < numSteps; i++) {
            sigmas[i] = shift.apply(base[i], imageTokens);
        }
        return SigmaSchedule.withTerminal(sigmas);
    }
}
