package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.fixtures.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code senseflow distill --teacher DIR --prompts FILE} on the shared Optimum SD3 folder: stopped after one
 * iteration, continued with {@code --resume RUN}, the student exported into {@code RUN/student}, and that folder
 * generating through {@code senseflow generate --model}.
 */
class DistillFrontDoorTest {
    @TempDir
    Path dir;

    @Test
    void distilStopResumeAndGenerateFromTheStudent() throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle\nthree yellow triangles\n");
        Path run = dir.resolve("run");
        DistillCommandTest.Run first = DistillCommandTest.run("distill", "--teacher", teacher.toString(), "--prompts",
                prompts.toString(), "--recipe", "senseflow", "--iterations", "2", "--batch", "1", "--size", "64x64",
                "--t5-length", "24", "--threads", "1", "--stop-at", "1", "--out", run.toString());
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("stopped at iteration 1 of 2").contains("--resume " + run);
        assertThat(run.resolve("student")).doesNotExist();
        DistillCommandTest.Run second = DistillCommandTest.run("distill", "--resume", run.toString(), "--size", "64x64",
                "--t5-length", "24", "--threads", "1", "--batch", "1", "--iterations", "2");
        assertThat(second.code()).as(second.err()).isZero();
        assertThat(second.err()).contains("resuming at iteration 1");
        assertThat(second.out()).contains("student:");
        assertThat(Files.readString(run.resolve("student/model_index.json"))).contains("\"senseflow_checkpoint\": true");
        Path image = dir.resolve("out.png");
        DistillCommandTest.Run gen = DistillCommandTest.run("generate", "--model", run.resolve("student").toString(),
                "--prompt", "a red circle", "--width", "64", "--height", "64", "--t5-length", "24", "--threads", "1",
                "--quiet", "--out", image.toString());
        assertThat(gen.code()).as(gen.err()).isZero();
        assertThat(image).isRegularFile();
    }
}
