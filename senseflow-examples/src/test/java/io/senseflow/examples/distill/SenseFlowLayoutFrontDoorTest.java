package io.senseflow.examples.distill;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.Recipe;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.ModelFamily;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.run.DistillationRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DistillationRun} on a teacher in the SDK's own layout ({@code "family": "senseflow"}, a tiny random Shapes
 * teacher written by {@code SenseFlowFolder}): the run builds from the folder and a prompt file, a run stopped half
 * way and resumed ends with the same student bits as an uninterrupted one, and {@code exportStudent} writes a folder
 * in the same layout that {@link Models#load} reads as a SenseFlow checkpoint sampling in the config's 4 anchors.
 */
class SenseFlowLayoutFrontDoorTest {
    static final LoadOptions ONE_THREAD = LoadOptions.builder().sessionConfig(SessionConfig.builder()
            .intraOpThreads(1).interOpThreads(1).build()).build();

    @TempDir
    Path dir;

    DistillationRun.Builder run(Path teacher, Path prompts, Path folder) {
        return DistillationRun.builder(teacher).prompts(prompts).folder(folder).recipe(Recipe.SENSEFLOW).iterations(6)
                .batchSize(2).seed(3).checkpointEvery(4).loadOptions(ONE_THREAD).threads(1);
    }

    @Test
    void distilResumeAndExportInTheSdkLayout() throws IOException {
        Path teacher = TinyShapesTeacher.write(dir.resolve("teacher"), 5);
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle\ntwo blue squares\na small green triangle\n");
        Map<String, Tensor> uninterrupted;
        Path student = dir.resolve("student");
        try (DistillationRun r = run(teacher, prompts, dir.resolve("a")).build()) {
            assertThat(r.family()).isEqualTo(ModelFamily.SENSEFLOW);
            r.run(CancellationToken.none());
            uninterrupted = r.student().snapshot();
            assertThat(r.exportStudent(student)).isEqualTo(student.toAbsolutePath().normalize());
        }
        try (DistillationRun r = run(teacher, prompts, dir.resolve("b")).build()) {
            r.runUntil(3, CancellationToken.none());
        }
        try (DistillationRun r = DistillationRun.resume(dir.resolve("b")).loadOptions(ONE_THREAD).build()) {
            assertThat(r.resumedFrom()).contains(3L);
            r.run(CancellationToken.none());
            Map<String, Tensor> resumed = r.student().snapshot();
            assertThat(resumed.keySet()).isEqualTo(uninterrupted.keySet());
            uninterrupted.forEach((k, v) -> assertThat(resumed.get(k).toArray()).as(k).containsExactly(v.toArray()));
        }
        assertThat(Files.readAllBytes(dir.resolve("b").resolve(DistillationRun.LOSSES)))
                .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(DistillationRun.LOSSES)));

        assertThat(Files.readString(student.resolve("model_index.json"))).contains("\"family\": \"senseflow\"");
        assertThat(Files.readAllBytes(student.resolve("transformer/model.onnx")))
                .isNotEqualTo(Files.readAllBytes(teacher.resolve("transformer/model.onnx")));
        assertThat(Files.readAllBytes(student.resolve("text_encoder/model.onnx")))
                .isEqualTo(Files.readAllBytes(teacher.resolve("text_encoder/model.onnx")));
        try (LoadedModel m = Models.load(student, ONE_THREAD)) {
            assertThat(m.family()).isEqualTo(ModelFamily.SENSEFLOW);
            assertThat(m.senseflowCheckpoint()).isTrue();
            assertThat(m.defaults().steps()).isEqualTo(4);
            GenerationResult g = m.pipeline().generate(GenerationRequest.builder().prompts(List.of("a red circle"))
                    .seed(1).build());
            assertThat(g.images()).hasSize(1);
            assertThat(g.latents().maxAbs()).isFinite().isPositive();
        }
    }
}
