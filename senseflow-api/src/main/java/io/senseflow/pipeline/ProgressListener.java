package io.senseflow.pipeline;

import io.senseflow.tensor.Tensor;

/**
 * Called after every sampling step, on the generating thread. Keep it quick.
 *
 * <p>One listener passed to generations on several threads is called from all of them: it must then be thread-safe.
 */
@FunctionalInterface
public interface ProgressListener {

    /**
     * One finished step.
     *
     * @param step the finished step, 1-based
     * @param totalSteps steps in the run
     * @param sigma the noise level the step ended at
     * @param elapsedNanos time since denoising began
     * @param latents the state after the step (immutable; usable for previews)
     */
    record Step(int step, int totalSteps, double sigma, long elapsedNanos, Tensor latents) {
    }

    /** @param step progress of the run */
    void onStep(Step step);

    /** @return a listener that ignores everything */
    static ProgressListener none() {
        return s -> { };
    }
}
