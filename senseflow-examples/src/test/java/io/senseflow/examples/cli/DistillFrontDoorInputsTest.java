package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.fixtures.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code senseflow distill --teacher DIR --prompts FILE} hands {@code --backbone} and {@code --data} to the front door:
 * a backbone that is not a vision model (the teacher's own text encoder) and data that do not exist are refused with
 * the file named, before the teacher loads and before the run folder is made.
 */
class DistillFrontDoorInputsTest {
    @TempDir
    Path dir;

    @Test
    void backboneAndDataReachTheRunAndBadOnesAreRefusedNamingTheFile() throws IOException {
        Path teacher = Fixtures.path("optimum-exports/sd3/onnx");
        Path prompts = dir.resolve("prompts.jsonl");
        Files.writeString(prompts, "{\"prompt\": \"a red circle\", \"guidance\": 4.5}\n");
        Path run = dir.resolve("run");
        Path textEncoder = teacher.resolve("text_encoder/model.onnx");
        DistillCommandTest.Run bad = DistillCommandTest.run("distill", "--teacher", teacher.toString(), "--prompts",
                prompts.toString(), "--backbone", textEncoder.toString(), "--out", run.toString());
        assertThat(bad.code()).isNotZero();
        assertThat(bad.err()).contains("backbone " + textEncoder).contains("vision backbone");
        Path missing = dir.resolve("no-images");
        DistillCommandTest.Run noData = DistillCommandTest.run("distill", "--teacher", teacher.toString(), "--prompts",
                prompts.toString(), "--data", missing.toString(), "--out", run.toString());
        assertThat(noData.code()).isNotZero();
        assertThat(noData.err()).contains("data " + missing);
        assertThat(run).doesNotExist();
    }
}
