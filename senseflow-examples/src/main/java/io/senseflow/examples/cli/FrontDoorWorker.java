package io.senseflow.examples.cli;

import io.senseflow.tf.distributed.CollectiveGroup;
import io.senseflow.tf.distributed.DataParallelProgram;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine;

/**
 * The program every worker of {@code senseflow distill ... --workers N} (or {@code --cluster ... --task i}) runs: it
 * reads the same {@code distill} arguments as the command line (without the data-parallel flags) and runs that
 * front-door {@link io.senseflow.tf.run.DistillationRun} as this worker of the group. Started by
 * {@link io.senseflow.tf.distributed.DataParallelWorker}; not meant to be called directly.
 */
public final class FrontDoorWorker implements DataParallelProgram {

    /** Created by the worker process by class name. */
    public FrontDoorWorker() {
    }

    @Override
    public void run(CollectiveGroup group, Path runDir, List<String> arguments) {
        DistillCommand c = new DistillCommand();
        CommandLine cl = new CommandLine(c);
        cl.parseArgs(arguments.toArray(String[]::new));
        FrontDoor.runWorker(c, group);
    }
}
