package io.senseflow.schedule;

import io.senseflow.tensor.Tensor;
import java.util.function.Supplier;

/**
 * The sampling vocabulary diffusers users know: choose the noise levels for N steps (or take explicit sigmas),
 * then {@link #step} from one level to the next. Schedulers here are immutable and thread-safe: the per-run
 * state is the {@link SigmaSchedule} they return.
 *
 * <p>Everything is in the flow convention {@code x_s = (1 - s) x0 + s eps}, velocity {@code v = eps - x0}.
 */
public interface Scheduler {

    /**
     * The default noise levels for {@code numSteps} steps.
     *
     * @param numSteps number of steps, at least 1
     * @param imageTokens the image token count (for resolution-dependent shifts; ignored otherwise)
     * @return the schedule, terminal level included
     */
    SigmaSchedule timesteps(int numSteps, int imageTokens);

    /**
     * Explicit noise levels, used as given (no shift); 0 is appended as the terminal unless present.
     *
     * @param sigmas strictly decreasing levels in (0, 1]
     * @return the schedule
     */
    default SigmaSchedule timesteps(double... sigmas) {
        return SigmaSchedule.of(sigmas);
    }

    /** @return how steps move between levels */
    SamplingMode mode();

    /**
     * One step from {@code schedule.sigma(index)} to {@code schedule.sigma(index + 1)}.
     *
     * @param sample the current state {@code x_s}
     * @param velocity the model's velocity at that state
     * @param schedule the run's schedule
     * @param index the step, 0-based
     * @param freshNoise fresh standard noise for the re-noising of {@link SamplingMode#STOCHASTIC} steps; not
     *     called otherwise, nor on a step that ends at level 0
     * @return the next state (the predicted clean sample after a step to level 0 in stochastic mode)
     */
    default Tensor step(Tensor sample, Tensor velocity, SigmaSchedule schedule, int index, Supplier<Tensor> freshNoise) {
        return FlowStep.step(mode(), sample, velocity, schedule.sigma(index), schedule.sigma(index + 1), freshNoise);
    }
}
