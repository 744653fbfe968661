package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.fixtures.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code senseflow distill --prompts FILE --lora-rank R [--lora-alpha A] [--lora-targets PATTERN]} on the shared
 * Optimum SD3 folder: one iteration writes the merged student and {@code RUN/adapters.safetensors}, and records the
 * settings in {@code run.json}; LoRA options without {@code --lora-rank}, or a rank of 0, are refused naming the
 * option before anything runs.
 */
class DistillLoraCliTest {
    @TempDir
    Path dir;

    @Test
    void loraRunWritesTheMergedStudentAndTheAdapters() throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle\n");
        Path run = dir.resolve("run");
        DistillCommandTest.Run r = DistillCommandTest.run("distill", "--teacher", teacher.toString(), "--prompts",
                prompts.toString(), "--iterations", "1", "--batch", "1", "--size", "64x64", "--t5-length", "24",
                "--threads", "1", "--lora-rank", "2", "--lora-alpha", "4", "--lora-targets", "attn", "--quiet",
                "--out", run.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("student:").contains("adapters:");
        assertThat(run.resolve("adapters.safetensors")).isRegularFile();
        assertThat(run.resolve("student/transformer/model.onnx")).isRegularFile();
        String runJson = Files.readString(run.resolve("run.json"));
        assertThat(runJson).contains("\"lora\"").contains("\\\"rank\\\":2").contains("\\\"targets\\\":\\\"attn\\\"");
    }

    @Test
    void loraOptionsNeedTheRankAndTheFrontDoor() throws IOException {
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle\n");
        DistillCommandTest.Run noRank = DistillCommandTest.run("distill", "--teacher", dir.resolve("nowhere").toString(),
                "--prompts", prompts.toString(), "--lora-alpha", "4", "--out", dir.resolve("a").toString());
        assertThat(noRank.code()).isNotZero();
        assertThat(noRank.err()).contains("--lora-alpha").contains("--lora-rank");
        DistillCommandTest.Run badRank = DistillCommandTest.run("distill", "--teacher", dir.resolve("nowhere")
                .toString(), "--prompts", prompts.toString(), "--lora-rank", "0", "--out", dir.resolve("b").toString());
        assertThat(badRank.code()).isNotZero();
        assertThat(badRank.err()).contains("lora rank").contains("at least 1");
        assertThat(dir.resolve("a")).doesNotExist();
        assertThat(dir.resolve("b")).doesNotExist();
    }
}
