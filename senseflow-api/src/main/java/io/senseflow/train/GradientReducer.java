package io.senseflow.train;

/**
 * Combines one module's accumulated parameter gradients across data-parallel workers. The {@code Distiller} calls it
 * once per module update, right after the backward passes and before the gradient clip, on every worker in the same
 * order; afterwards every worker's optimizer holds the mean of the workers' gradients, so the clip and the step see
 * the same numbers everywhere and the parameters stay identical.
 *
 * <p>Implementations block until every worker has contributed (a collective) and must be bounded in time: a worker
 * that never arrives has to end in an exception, not a hang. Called from the training thread only.
 */
@FunctionalInterface
public interface GradientReducer {

    /**
     * Replaces the module's accumulated gradients with their mean over all workers.
     *
     * @param module the module's name in the run ({@code "generator"}, {@code "fake_score"}, {@code "discriminator"})
     * @param trainable the module (its optimizer holds the gradients)
     * @param iteration the iteration, for error messages
     */
    void allReduceMean(String module, DifferentiableModule trainable, long iteration);

    /** @return the reducer of a one-process run: leaves the gradients as they are */
    static GradientReducer none() {
        return (module, trainable, iteration) -> { };
    }
}
