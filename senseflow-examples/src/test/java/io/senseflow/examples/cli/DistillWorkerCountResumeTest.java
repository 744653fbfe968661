package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.fixtures.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A resume with another worker count (the choice documented in docs/distributed.md: allowed, because a resume keeps
 * the config and so the global batch): a run started with {@code --workers 2} and stopped at iteration 3, continued by
 * {@code senseflow distill --resume RUN} in one process, ends within 1e-6 of the one-process run of the same global
 * batch. Experiment tag (three runs of the SD3 graphs, about a minute on the shared machine).
 */
@Tag("experiment")
class DistillWorkerCountResumeTest {
    @TempDir
    Path dir;

    @Test
    void aTwoWorkerRunContinuedInOneProcessFollowsTheOneProcessRun() throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle on a blue square\nthree small yellow triangles\nune étoile verte\n");
        List<String> common = List.of("distill", "--teacher", teacher.toString(), "--prompts", prompts.toString(),
                "--recipe", "dmd+ida+isg", "--iterations", "6", "--batch", "2", "--checkpoint-every", "3", "--size",
                "64x64", "--t5-length", "24", "--threads", "1", "--quiet");
        Path one = dir.resolve("run-1");
        DistillCommandTest.Run a = DistillCommandTest.run(with(common, "--out", one.toString()));
        assertThat(a.code()).as(a.err()).isZero();
        Path mixed = dir.resolve("run-mixed");
        DistillCommandTest.Run b = DistillCommandTest.run(with(common, "--workers", "2", "--stop-at", "3", "--out",
                mixed.toString()));
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.out()).contains("continue with --resume");
        DistillCommandTest.Run c = DistillCommandTest.run("distill", "--resume", mixed.toString());
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(c.err()).contains("resuming at iteration 3");
        TrainingSnapshot ref = DistillDataParallelTest.latest(one);
        TrainingSnapshot got = DistillDataParallelTest.latest(mixed);
        assertThat(got.iteration()).isEqualTo(6);
        double worst = DistillDataParallelTest.maxDifference(ref, got);
        System.out.printf("2 workers to iteration 3, then 1 process to 6: max difference %.3g%n", worst);
        assertThat(worst).isLessThanOrEqualTo(1e-6);
    }

    private static String[] with(List<String> common, String... more) {
        List<String> a = new ArrayList<>(common);
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }
}
