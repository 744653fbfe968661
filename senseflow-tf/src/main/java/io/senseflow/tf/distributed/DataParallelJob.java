package io.senseflow.tf.distributed;

import io.senseflow.distill.Distiller;

/**
 * What every worker process of a data-parallel run builds: the same distiller (same config, modules, initial
 * parameters) on each worker, made a worker with {@link WorkerContext#dataParallel}. Implementations need a public
 * no-argument constructor: the worker process creates them by class name ({@link DataParallelWorker}), so they must
 * be on the worker's class path and must not depend on state of the launching JVM beyond their arguments.
 */
public interface DataParallelJob {

    /**
     * Builds this worker's distiller. Resources to close at the end are registered with {@link WorkerContext#own}.
     *
     * @param context this worker's shard, gradient reducer and the run's job arguments
     * @return the distiller (not yet restored: the worker restores the latest checkpoint itself)
     */
    Distiller build(WorkerContext context);
}
