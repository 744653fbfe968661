package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.examples.shapes.ShapesModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code senseflow index-model DIR}: (re)writes the {@code files.txt} index (SHA-256, size, path of every file) that
 * {@link ShapesModels} checks when it copies a bundled model out of the classpath. For maintainers who replace a
 * bundled model; hidden from the usage help.
 */
@Command(name = "index-model", hidden = true, mixinStandardHelpOptions = true,
        description = "Write files.txt (SHA-256, size and path of every file) for a model folder to be bundled.")
final class IndexModelCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(paramLabel = "DIR", description = "the model folder")
    Path dir;

    @Override
    public Integer call() {
        if (!Files.isDirectory(dir)) {
            throw InvalidRequestException.of("DIR", "a model folder", dir + " (not a folder)");
        }
        spec.commandLine().getOut().println(ShapesModels.writeIndex(dir));
        spec.commandLine().getOut().flush();
        return 0;
    }
}
