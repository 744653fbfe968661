package io.senseflow.examples.cli;

import io.senseflow.CancelledException;
import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.SenseFlowException;
import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code senseflow} command line. Subcommands: {@code generate} (text to image with a model folder); the Shapes
 * demo's {@code train-classifier}, {@code train-autoencoder}, {@code train-teacher} and {@code eval}; the distillation
 * commands {@code distill}, {@code quickstart} and {@code ablation}; and {@code bench} (the
 * benchmark harness, docs/performance.md).
 *
 * <p>Exit codes: 0 success; 2 bad arguments or an invalid request (picocli's usage errors included); 3 a model
 * folder that cannot be loaded; 130 cancelled; 1 anything else.
 */
@Command(name = "senseflow", mixinStandardHelpOptions = true, version = "SenseFlow for Java 0.1.0",
        description = "Few-step text-to-image generation and SenseFlow distillation on the JVM.",
        subcommands = {GenerateCommand.class, TrainAutoencoderCommand.class, TrainClassifierCommand.class,
                TrainTeacherCommand.class, EvalCommand.class, IndexModelCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class SenseFlowCli implements Runnable {
    /** Exit code of an invalid request (the same as picocli's usage errors). */
    public static final int EXIT_INVALID = CommandLine.ExitCode.USAGE;
    /** Exit code of a model folder that cannot be loaded. */
    public static final int EXIT_MODEL = 3;
    /** Exit code of a cancelled run. */
    public static final int EXIT_CANCELLED = 130;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Read by the launcher script (which turns native logging on); accepted here, anywhere on the line. */
    @CommandLine.Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Show TensorFlow's and ONNX Runtime's native logging (the senseflow launcher quiets it).")
    boolean verbose;

    /** @param args the arguments */
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** @return the configured command line; {@code execute(args)} runs it and returns the exit code */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new SenseFlowCli());
        // distillation commands, registered here so that the annotation's list stays the Shapes trainers' to edit
        cl.addSubcommand(new DistillCommand());
        cl.addSubcommand(new QuickstartCommand());
        cl.addSubcommand(new AblationCommand());
        cl.setExecutionExceptionHandler((e, cmd, parseResult) -> {
            PrintWriter err = cmd.getErr();
            err.println();
            err.println(cmd.getColorScheme().errorText("senseflow: error: " + e.getMessage()));
            if (!(e instanceof SenseFlowException)) {
                e.printStackTrace(err);
            }
            err.flush();
            return exitCode(e);
        });
        return cl;
    }

    static int exitCode(Throwable e) {
        if (e instanceof InvalidRequestException || e instanceof CommandLine.ParameterException) {
            return EXIT_INVALID;
        }
        if (e instanceof ModelLoadException) {
            return EXIT_MODEL;
        }
        if (e instanceof CancelledException) {
            return EXIT_CANCELLED;
        }
        return CommandLine.ExitCode.SOFTWARE;
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "missing subcommand: try '"
                + Launcher.command() + " --help'");
    }
}
