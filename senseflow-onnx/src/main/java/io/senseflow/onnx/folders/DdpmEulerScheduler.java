package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.schedule.SamplingMode;
import io.senseflow.schedule.Scheduler;
import io.senseflow.schedule.SigmaSchedule;
import java.util.Locale;
import java.util.Objects;

/**
 * The default many-step sampler of a DDPM epsilon model (SDXL) in the flow convention: the N DDPM timesteps are
 * chosen as diffusers' {@code EulerDiscreteScheduler} chooses them ({@code timestep_spacing} and
 * {@code steps_offset} of the scheduler config; SDXL ships {@code leading} with offset 1), mapped to flow levels
 * {@code s = b / (a + b)} (docs/algorithm.md §1), and stepped with Euler on the velocity of an
 * {@link io.senseflow.model.EpsilonToFlowAdapter}. Euler in the flow convention visits the same states (up to the
 * {@code 1 / (a + b)} scaling) as diffusers' Euler on {@code sigma = b / a}, so this is the same sampler.
 *
 * <p>Fractional timesteps ({@code linspace} spacing) are placed by the table's log-linear interpolation, where
 * diffusers
 * interpolates sigma linearly: their levels differ slightly. Immutable.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param table the DDPM table
 * @param spacing how timesteps are spread
 * @param stepsOffset added to {@code leading} timesteps
 */
public record DdpmEulerScheduler(DdpmSchedule table, Spacing spacing, int stepsOffset) implements Scheduler {

    /** diffusers' {@code timestep_spacing}. */
    public enum Spacing {
        /** {@code t = i * (T / N) + offset}, integer division (SD/SDXL configs). */
        LEADING,
        /** {@code t = round(T - i * T / N) - 1}: starts at T - 1. */
        TRAILING,
        /** {@code linspace(0, T - 1, N)}, fractional. */
        LINSPACE;

        /** @param name a config value ({@code leading}, {@code trailing}, {@code linspace}) @return the spacing */
        public static Spacing fromConfig(String name) {
            try {
                return valueOf(name.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw InvalidRequestException.of("timestep_spacing", "leading, trailing or linspace", name);
            }
        }
    }

    public DdpmEulerScheduler {
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(spacing, "spacing");
        if (stepsOffset < 0 || stepsOffset >= table.steps()) {
            throw InvalidRequestException.of("steps_offset", "in [0, " + table.steps() + ")", stepsOffset);
        }
    }

    /** @return SDXL's released scheduler: the Stable Diffusion table, {@code leading} spacing, offset 1 */
    public static DdpmEulerScheduler sdxl() {
        return new DdpmEulerScheduler(DdpmSchedule.stableDiffusion(), Spacing.LEADING, 1);
    }

    /**
     * @param numSteps N
     * @return the DDPM timesteps, descending
     */
    public double[] ddpmTimesteps(int numSteps) {
        int trainSteps = table.steps();
        if (numSteps < 1 || numSteps > trainSteps) {
            throw InvalidRequestException.of("numSteps", "between 1 and " + trainSteps, numSteps);
        }
        double[] t = new double[numSteps];
        for (int i = 0; i < numSteps; i++) {
            t[i] = switch (spacing) {
                case LEADING -> Math.min((numSteps - 1 - i) * (long) (trainSteps / numSteps) + stepsOffset, trainSteps - 1);
                case TRAILING -> Math.max(Math.rint(trainSteps - i * (trainSteps / (double) numSteps)) - 1, 0);
                case LINSPACE -> numSteps == 1 ? trainSteps - 1 : (trainSteps - 1) * (numSteps - 1 - i) / (double) (numSteps - 1);
            };
        }
        return t;
    }

    @Override
    public SigmaSchedule timesteps(int numSteps, int imageTokens) {
        double[] t = ddpmTimesteps(numSteps);
        double[] sigmas = new double[numSteps + 1];
        for (int i = 0; i < numSteps; i++) {
            double[] ab = table.scalesAt(t[i]);
            sigmas[i] = ab[1] / (ab[0] + ab[1]);
        }
        return SigmaSchedule.withTerminal(sigmas);
    }

    @Override
    public SamplingMode mode() {
        return SamplingMode.EULER;
    }

    @Override
    public String toString() {
        return "DdpmEulerScheduler[" + spacing.name().toLowerCase(Locale.ROOT) + ", offset " + stepsOffset + "]";
    }
}
