package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.bench.ModelFolders;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GuidanceMode;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code senseflow bench}: a smoke run writes its report; the bundled folders load; bad option pairs are refused. */
class BenchCommandTest {
    @TempDir
    Path dir;

    @Test
    void smokeRunWritesTheReport() throws Exception {
        Path report = dir.resolve("report.md");
        GenerateCommandTest.Run r = GenerateCommandTest.run("bench", "--smoke", "--suite", "sampling,overhead",
                "--threads", "1", "--spin", "always", "--work", dir.resolve("work").toString(), "--out", report.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Files.readString(report)).contains("## Sampling", "## SDK overhead", "| student 4 |",
                "workers spinning: always", "CPU flags (/proc/cpuinfo", "| step 1: sigma, ms |");
    }

    @Test
    void bundledFoldersHoldATeacherAndAStudentThatSample() {
        ModelFolders f = BenchCommand.bundledFolders(dir.resolve("bundled"));
        try (LoadedModel teacher = Models.load(f.teacher()); LoadedModel student = Models.load(f.student())) {
            assertThat(teacher.guidanceMode()).isEqualTo(GuidanceMode.CFG);
            assertThat(student.guidanceMode()).isEqualTo(GuidanceMode.NONE);
            assertThat(student.pipeline().generate(GenerationRequest.builder().prompt("a red circle").seed(1).build())
                    .images()).hasSize(1);
        }
    }

    @Test
    void anUnknownSpinSettingIsRefused() {
        GenerateCommandTest.Run r = GenerateCommandTest.run("bench", "--smoke", "--spin", "sometimes");
        assertThat(r.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(r.err()).contains("--spin", "within-runs, always or off", "sometimes");
    }

    @Test
    void bundledWithFoldersIsRefused() {
        GenerateCommandTest.Run r = GenerateCommandTest.run("bench", "--bundled", "--shapes-teacher", "t",
                "--shapes-student", "s");
        assertThat(r.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(r.err()).contains("--bundled");
    }
}
