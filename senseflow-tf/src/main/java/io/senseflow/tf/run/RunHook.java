package io.senseflow.tf.run;

import io.senseflow.distill.IterationMetrics;

/**
 * Code a {@link DistillationRun} calls every N iterations ({@link DistillationRun.Builder#every}), after the
 * iteration's losses are recorded and before any checkpoint of that iteration: a periodic evaluation of the
 * in-training student ({@link DistillationRun#student()}, {@link DistillationRun#modules()}), a log line, a sample
 * grid. A hook measures: it must not change the modules' parameters or optimizer state, or a resumed run will not
 * match an uninterrupted one. What it computes reaches the run folder through {@link DistillationRun.Builder#runFile}.
 */
@FunctionalInterface
public interface RunHook {
    /**
     * @param run the run (its student holds the weights after {@code completed} iterations)
     * @param completed iterations completed so far (a multiple of the hook's period, or the config's last)
     * @param metrics the last iteration's metrics
     */
    void at(DistillationRun run, long completed, IterationMetrics metrics);
}
