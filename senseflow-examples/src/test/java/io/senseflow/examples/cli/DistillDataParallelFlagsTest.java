package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data-parallel flags of {@code senseflow distill}: bad combinations are refused naming the flag before any worker
 * starts or the run folder is made, and the workers get the command line without the data-parallel flags.
 */
class DistillDataParallelFlagsTest {
    @TempDir
    Path dir;

    @Test
    void badCombinationsAreRefusedBeforeAnythingStarts() throws IOException {
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle\n");
        Path teacher = dir.resolve("no-teacher");
        Path run = dir.resolve("run");
        String[][] bad = {
            {"--workers", "2", "--cluster", "127.0.0.1:1,127.0.0.1:2", "--task", "0"},
            {"--task", "1"},
            {"--cluster", "127.0.0.1:1,127.0.0.1:2"},
            {"--workers", "3", "--batch", "2"},
            {"--workers", "2", "--backbone", prompts.toString()},
        };
        String[] named = {"--workers", "--task", "--cluster", "--workers", "--backbone"};
        for (int i = 0; i < bad.length; i++) {
            List<String> a = new java.util.ArrayList<>(List.of("distill", "--teacher", teacher.toString(),
                    "--prompts", prompts.toString(), "--recipe", "dmd+ida+isg", "--out", run.toString()));
            a.addAll(List.of(bad[i]));
            DistillCommandTest.Run r = DistillCommandTest.run(a.toArray(String[]::new));
            assertThat(r.code()).as(String.join(" ", bad[i])).isNotZero();
            assertThat(r.err()).as(String.join(" ", bad[i])).contains(named[i]);
            assertThat(run).doesNotExist();
        }
    }

    @Test
    void workersGetTheCommandLineWithoutTheDataParallelFlags() {
        assertThat(FrontDoor.workerArguments(List.of("distill", "--teacher", "t", "--workers", "2", "--prompts", "p",
                "--max-restarts=1", "--collective-timeout-ms", "5000", "--out", "r")))
                .containsExactly("--teacher", "t", "--prompts", "p", "--out", "r", "--quiet");
        assertThat(FrontDoor.workerArguments(List.of("distill", "--cluster", "a:1,b:2", "--task", "1", "--quiet",
                "--resume", "r"))).containsExactly("--quiet", "--resume", "r");
    }
}
