package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The packaged {@code senseflow} launcher ({@code target/senseflow/bin/senseflow}, made by the assembly at
 * {@code package}). Runs in the pom's {@code launcher} surefire execution, bound to {@code package} after the
 * assembly, so it sees what a user gets; not in the {@code test} phase, where the launcher does not exist yet.
 */
class LauncherIT {
    private static final Path HOME = Path.of("target", "senseflow").toAbsolutePath();
    private static final Path LAUNCHER = HOME.resolve("bin/senseflow");

    @TempDir
    Path tmp;

    @Test
    void isLaidOutExecutableWithItsJars() throws IOException {
        assertThat(LAUNCHER).isRegularFile().isExecutable();
        List<String> jars = new ArrayList<>();
        try (var s = Files.list(HOME.resolve("lib"))) {
            s.forEach(p -> jars.add(p.getFileName().toString()));
        }
        assertThat(jars).anyMatch(j -> j.startsWith("senseflow-examples-"))
                .anyMatch(j -> j.startsWith("senseflow-onnx-")).anyMatch(j -> j.startsWith("senseflow-tf-"))
                .anyMatch(j -> j.startsWith("picocli-")).anyMatch(j -> j.startsWith("onnxruntime"))
                .noneMatch(j -> j.startsWith("senseflow-fixtures") || j.startsWith("junit"));
    }

    @Test
    void helpListsEverySubcommandFromAnotherDirectoryAndThroughALink() throws Exception {
        Path link = tmp.resolve("bin/senseflow");
        Files.createDirectories(link.getParent());
        Files.createSymbolicLink(link, LAUNCHER);
        Run run;
        try {
            run = run(tmp, Map.of(), link.toString(), "--help");
        } finally {
            Files.delete(link);
        }
        assertThat(run.code).as(run.output).isZero();
        for (var e : SenseFlowCli.commandLine().getSubcommands().entrySet()) {
            if (e.getValue().getCommandSpec().usageMessage().hidden()) {
                continue;   // index-model: a maintainer's tool, hidden from the help on purpose
            }
            String sub = e.getKey();
            assertThat(run.output).as("senseflow --help lists " + sub).containsPattern("(?m)^\\s+" + sub + "\\b");
        }
        assertThat(run.output).contains("--verbose");
    }

    /** A stand-in java (JAVA_HOME/bin/java) that prints what it was given: the environment and the arguments. */
    @Test
    void exportsTheNativeSettingsAndVerboseTurnsLoggingOn() throws Exception {
        Path fakeHome = tmp.resolve("jdk");
        Path java = fakeHome.resolve("bin/java");
        Files.createDirectories(java.getParent());
        Files.writeString(java, "#!/bin/sh\necho \"TF_ENABLE_ONEDNN_OPTS=$TF_ENABLE_ONEDNN_OPTS\"\n"
                + "echo \"TF_CPP_MIN_LOG_LEVEL=$TF_CPP_MIN_LOG_LEVEL\"\nfor a in \"$@\"; do echo \"arg=$a\"; done\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        Map<String, String> env = Map.of("JAVA_HOME", fakeHome.toString(), "TF_ENABLE_ONEDNN_OPTS", "1");

        Run quiet = run(tmp, env, LAUNCHER.toString(), "generate", "--prompt", "a b");
        assertThat(quiet.output).contains("TF_ENABLE_ONEDNN_OPTS=0", "TF_CPP_MIN_LOG_LEVEL=2",
                "arg=-Dsenseflow.ort.logLevel=error", "arg=-Dai.djl.offline=true",
                "arg=-Dsenseflow.launcher=" + LAUNCHER, "arg=-cp", "arg=" + HOME.toRealPath() + "/lib/*",
                "arg=io.senseflow.examples.cli.SenseFlowCli", "arg=generate\narg=--prompt\narg=a b\n");

        Run verbose = run(tmp, env, LAUNCHER.toString(), "--verbose", "generate");
        assertThat(verbose.output).contains("TF_ENABLE_ONEDNN_OPTS=0", "TF_CPP_MIN_LOG_LEVEL=0",
                "arg=-Dsenseflow.ort.logLevel=warning", "arg=--verbose\narg=generate\n");
    }

    private record Run(int code, String output) {
    }

    private static Run run(Path dir, Map<String, String> env, String... command) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] out = p.getInputStream().readAllBytes();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
