package io.senseflow.tf.distributed;

import java.nio.file.Path;
import java.util.List;

/**
 * A worker program that runs its own training loop (as {@code io.senseflow.tf.run.DistillationRun} does, with its
 * run folder, losses and export) instead of handing a {@link io.senseflow.distill.Distiller} to
 * {@link DataParallelWorker}'s loop. The worker joins the {@link CollectiveGroup} first, calls {@link #run} and reports
 * how it ended in its status file exactly as for a {@link DataParallelJob}, so {@link DataParallelLauncher} supervises
 * and restarts both kinds the same way. Implementations need a public no-argument constructor and must be on the
 * workers' class path.
 */
public interface DataParallelProgram {

    /**
     * Runs this worker's part of the run to its end. A restart after a failure calls it again in a fresh process: it
     * must continue from the run folder's latest checkpoint on its own.
     *
     * @param group the joined group (this worker's task and the worker count)
     * @param runDir the run folder given to the worker
     * @param arguments the program's arguments, the same on every worker
     */
    void run(CollectiveGroup group, Path runDir, List<String> arguments);
}
