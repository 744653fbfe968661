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
 * settings in {@code run.json}; {@code senseflow generate --model TEACHER --adapters RUN/adapters.safetensors
 * --senseflow} gives the merged student's pixels, and refuses a file that is not adapters, naming it; LoRA options
 * without {@code --lora-rank}, or a rank of 0, are refused naming the option before anything runs.
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

        // the two export forms sample alike: the teacher with --adapters (as a SenseFlow checkpoint) and the merged
        // student folder give the same pixels; the PNG records the adapter file
        Path viaAdapters = dir.resolve("adapters.png");
        GenerateCommandTest.Run a = GenerateCommandTest.run("generate", "--model", teacher.toString(), "--adapters",
                run.resolve("adapters.safetensors").toString(), "--senseflow", "--t5-length", "24", "--prompt",
                "a red circle", "--seed", "2", "--width", "64", "--height", "64", "--threads", "1", "--quiet", "--out",
                viaAdapters.toString());
        assertThat(a.code()).as(a.err()).isZero();
        Path viaStudent = dir.resolve("student.png");
        GenerateCommandTest.Run s = GenerateCommandTest.run("generate", "--model", run.resolve("student").toString(),
                "--t5-length", "24", "--prompt", "a red circle", "--seed", "2", "--width", "64", "--height", "64",
                "--threads", "1", "--quiet", "--out", viaStudent.toString());
        assertThat(s.code()).as(s.err()).isZero();
        io.senseflow.image.Image ia = io.senseflow.image.Image.read(viaAdapters);
        assertThat(ia.rgb()).isEqualTo(io.senseflow.image.Image.read(viaStudent).rgb());
        assertThat(ia.metadata()).containsEntry("lora_adapters", "adapters.safetensors")
                .containsEntry("senseflow_checkpoint", "true");

        // a file that is not an adapter file is refused, naming it
        Path bad = dir.resolve("prompts-as-adapters.safetensors");
        Files.copy(prompts, bad);
        GenerateCommandTest.Run refused = GenerateCommandTest.run("generate", "--model", teacher.toString(),
                "--adapters", bad.toString(), "--prompt", "a red circle", "--quiet", "--out",
                dir.resolve("no.png").toString());
        assertThat(refused.code()).isNotZero();
        assertThat(refused.err()).contains(bad.toString());
        assertThat(dir.resolve("no.png")).doesNotExist();
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
        DistillCommandTest.Run bf16NoRank = DistillCommandTest.run("distill", "--teacher", dir.resolve("nowhere")
                .toString(), "--prompts", prompts.toString(), "--lora-bf16", "--out", dir.resolve("c").toString());
        assertThat(bf16NoRank.code()).isNotZero();
        assertThat(bf16NoRank.err()).contains("--lora-bf16").contains("--lora-rank");
        assertThat(dir.resolve("a")).doesNotExist();
        assertThat(dir.resolve("b")).doesNotExist();
        assertThat(dir.resolve("c")).doesNotExist();
    }
}
