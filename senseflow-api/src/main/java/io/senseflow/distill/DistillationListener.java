package io.senseflow.distill;

/** Receives each iteration's metrics (on the training thread; keep it quick). */
@FunctionalInterface
public interface DistillationListener {
    /** @param metrics what the iteration did */
    void onIteration(IterationMetrics metrics);
}
