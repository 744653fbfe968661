package io.senseflow.tf.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.ModelFamily;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The front door on each shared Optimum folder (sd3, flux_dev, sdxl, exactly as Optimum wrote them): a SenseFlow run
 * of {@value #N} iterations from the folder and a prompt file ends; the same run stopped at {@value #K} and resumed
 * from its folder in a fresh {@link DistillationRun} ends with bit-identical student weights; the exported folder
 * loads with {@link Models#load} as a SenseFlow checkpoint of the same family and generates 64 x 64 images in its
 * default 4 steps.
 *
 * <p>Tagged experiment (run with {@code -Dexcluded.groups= -Dgroups=experiment}): the default suite shows the same
 * through the CLI, at 30 iterations, in {@code senseflow-examples}' {@code DistillFrontDoorTest}; this is the Java
 * API's version, kept for working on the class without the CLI.
 */
@org.junit.jupiter.api.Tag("experiment")
class DistillationRunTest {
    static final int N = 4;
    static final int K = 2;
    static final LoadOptions OPTIONS = LoadOptions.builder().sessionConfig(SessionConfig.builder()
            .intraOpThreads(1).interOpThreads(1).build()).t5SequenceLength(24).build();

    @TempDir
    Path dir;

    Path prompts() throws IOException {
        Path p = dir.resolve("prompts.txt");
        Files.writeString(p, "# three prompts\na red circle on a blue square\n\nthree small yellow triangles\n"
                + "une étoile verte\n");
        return p;
    }

    DistillationRun.Builder run(Path teacher, Path folder) throws IOException {
        return DistillationRun.builder(teacher).prompts(prompts()).folder(folder).recipe(Recipe.SENSEFLOW)
                .iterations(N).batchSize(1).seed(5).checkpointEvery(2).imageSize(64, 64).loadOptions(OPTIONS)
                .threads(2);
    }

    void distilResumeExport(String name, ModelFamily family) throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/" + name + "/onnx", dir.resolve("teacher"));
        long start = System.nanoTime();
        Map<String, Tensor> uninterrupted;
        List<IterationMetrics> metrics = new ArrayList<>();
        Path exported = dir.resolve("student");
        try (DistillationRun r = run(teacher, dir.resolve("run-a")).listener(metrics::add).build()) {
            assertThat(r.family()).isEqualTo(family);
            long built = System.nanoTime();
            r.run(CancellationToken.none());
            double seconds = (System.nanoTime() - built) / 1e9;
            System.out.printf("%s: build %.1f s, %d iterations %.1f s (%.2f s/iteration)%n", name,
                    (built - start) / 1e9, N, seconds, seconds / N);
            uninterrupted = r.student().snapshot();
            r.exportStudent(exported);
        }
        assertThat(metrics).hasSize(N);
        assertThat(metrics.get(0).losses()).containsKeys("dmd", "isg", "gan", "fake_score");
        metrics.forEach(m -> m.losses().forEach((k, v) -> assertThat(v).as(name + " " + k).isFinite()));
        assertThat(Files.readAllLines(dir.resolve("run-a").resolve(DistillationRun.LOSSES))).first()
                .isEqualTo("iteration,term,value");

        Path runB = dir.resolve("run-b");
        try (DistillationRun r = run(teacher, runB).build()) {
            r.runUntil(K, CancellationToken.none());
        }
        try (DistillationRun r = run(teacher, runB).resume(true).build()) {
            assertThat(r.resumedFrom()).contains((long) K);
            r.run(CancellationToken.none());
            Map<String, Tensor> resumed = r.student().snapshot();
            assertThat(resumed.keySet()).isEqualTo(uninterrupted.keySet());
            for (String k : uninterrupted.keySet()) {
                assertThat(resumed.get(k).toArray()).as(name + " " + k).containsExactly(uninterrupted.get(k).toArray());
            }
        }
        assertThat(Files.readAllLines(runB.resolve(DistillationRun.LOSSES)))
                .isEqualTo(Files.readAllLines(dir.resolve("run-a").resolve(DistillationRun.LOSSES)));

        try (LoadedModel m = Models.load(exported, OPTIONS)) {
            assertThat(m.family()).isEqualTo(family);
            assertThat(m.senseflowCheckpoint()).isTrue();
            assertThat(m.defaults().steps()).isEqualTo(4);
            GenerationResult g = m.pipeline().generate(GenerationRequest.builder()
                    .prompts(List.of("a red circle on a blue square")).width(64).height(64).seed(3).build());
            assertThat(g.images()).hasSize(1);
            assertThat(g.images().get(0).width()).isEqualTo(64);
            assertThat(g.latents().maxAbs()).isFinite().isPositive();
        }
        System.out.printf("%s: whole case %.1f s%n", name, (System.nanoTime() - start) / 1e9);
    }

    @Test
    void sd3() throws IOException {
        distilResumeExport("sd3", ModelFamily.SD3);
    }

    @Test
    void fluxDev() throws IOException {
        distilResumeExport("flux_dev", ModelFamily.FLUX);
    }

    @Test
    void sdxl() throws IOException {
        distilResumeExport("sdxl", ModelFamily.SDXL);
    }
}
