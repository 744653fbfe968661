package io.senseflow.examples.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.CheckpointException;
import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.Recipe;
import io.senseflow.json.Json;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.run.DataPlugin;
import io.senseflow.tf.run.DistillationRun;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The front door's dataset, checkpoint and export plug-in points ({@link DistillationRun.Builder#data},
 * {@link DistillationRun.Builder#checkpointMetadata}, {@link DistillationRun.Builder#checkpointExtra},
 * {@link DistillationRun.Builder#exporter}) on a tiny random Shapes teacher, with the Shapes runs' own data
 * ({@link ShapesDistillationData}: rendered training images, encoded by the teacher's VAE encoder, captions as prompts)
 * and the Shapes export ({@link StudentExport}: the SDK layout with {@code provenance.json}). No prompt file: the
 * batches are the plug-in's; a run interrupted at iteration 2 and resumed ends on the bits of an uninterrupted one;
 * the resumed run reads its checkpoint's extra; a resume with another metadata value, or without the plug-in, is
 * refused before any work.
 */
class FrontDoorDataPluginTest {
    @TempDir
    Path dir;

    /** The Shapes data as a plug-in, recording the iterations it was asked for. */
    record ShapesData(long seed, List<Long> asked) implements DataPlugin {
        @Override
        public DistillationDataset create(Context c) {
            LoadedModel t = c.teacher();
            ShapesDistillationData shapes = new ShapesDistillationData(seed, t.promptEncoder(),
                    t.imageEncoder().orElseThrow(), c.sampleShape());
            return new DistillationDataset() {
                @Override
                public DistillationBatch batch(long iteration, int size) {
                    asked.add(iteration);
                    return shapes.batch(iteration, size);
                }

                @Override
                public int[] sampleShape() {
                    return shapes.sampleShape();
                }
            };
        }

        @Override
        public String toString() {
            return "ShapesData[seed=" + seed + "]";   // the list is not part of the plug-in's identity
        }
    }

    private DistillationRun.Builder run(DistillationRun.Builder b, List<Long> asked, String preset) {
        return b.data(new ShapesData(3, asked)).loadOptions(SenseFlowLayoutFrontDoorTest.ONE_THREAD).threads(1)
                .checkpointMetadata("preset", preset)
                .checkpointExtra("history.txt", r -> ("done " + r.iteration()).getBytes(StandardCharsets.UTF_8));
    }

    private DistillationRun.Builder fresh(Path teacher, Path folder, List<Long> asked) {
        return run(DistillationRun.builder(teacher).folder(folder).recipe(Recipe.SENSEFLOW).iterations(4).batchSize(2)
                .seed(3).checkpointEvery(2), asked, "senseflow");
    }

    @Test
    void shapesDataCheckpointMetadataExtrasAndExportThroughTheFrontDoor() throws Exception {
        Path teacher = TinyShapesTeacher.write(dir.resolve("teacher"), 7);
        TeacherFolder shapesTeacher = TeacherFolder.read(teacher);
        List<Long> asked = Collections.synchronizedList(new ArrayList<>());
        Map<String, Tensor> whole;
        Path student = dir.resolve("student");
        try (DistillationRun r = fresh(teacher, dir.resolve("whole"), asked)
                .exporter((run, d) -> StudentExport.write(shapesTeacher, run.modules().studentGraph(),
                        run.shippedStudent(), run.config().anchors(), "tiny-student", Map.of("iterations",
                                run.iteration(), "made_by", "FrontDoorDataPluginTest"), d)).build()) {
            r.run(CancellationToken.none());
            whole = r.student().snapshot();
            assertThat(r.exportStudent(student)).isEqualTo(student.toAbsolutePath().normalize());
            assertThat(r.encodedPrompts()).as("no prompt file was encoded").isZero();
        }
        // batch(0, 1) once for the shapes, then iterations 0..3 in order (the GAN's real side included)
        assertThat(asked).containsExactly(0L, 0L, 1L, 2L, 3L);
        List<String> losses = Files.readAllLines(dir.resolve("whole").resolve(DistillationRun.LOSSES));
        assertThat(losses.stream().anyMatch(l -> l.contains(",discriminator_real,"))).as("real samples reached the GAN")
                .isTrue();
        String runJson = Files.readString(dir.resolve("whole").resolve(DistillationRun.RUN_JSON));
        assertThat(runJson).contains("data=ShapesData[seed=3]").doesNotContain("prompts_sha256");
        // the Shapes export: the SDK layout, provenance.json, loadable as a few-step model
        assertThat(Json.parseObject(Files.readString(student.resolve(StudentExport.PROVENANCE))).getString("made_by",
                "")).isEqualTo("FrontDoorDataPluginTest");
        try (LoadedModel m = Models.load(student, SenseFlowLayoutFrontDoorTest.ONE_THREAD)) {
            assertThat(m.senseflowCheckpoint()).isTrue();
        }

        // interrupted at 2, resumed: the same bits, the checkpoint's extra and metadata seen
        Path folder = dir.resolve("split");
        List<Long> first = new ArrayList<>();
        try (DistillationRun r = fresh(teacher, folder, first).build()) {
            r.runUntil(2, CancellationToken.none());
        }
        assertThatThrownBy(() -> run(DistillationRun.resume(folder), new ArrayList<>(), "vanilla-dmd").build())
                .isInstanceOf(CheckpointException.class).hasMessageContaining("preset")
                .hasMessageContaining("expected vanilla-dmd").hasMessageContaining("found senseflow");
        assertThatThrownBy(() -> DistillationRun.resume(folder).loadOptions(SenseFlowLayoutFrontDoorTest.ONE_THREAD)
                .build()).isInstanceOf(InvalidRequestException.class).hasMessageContaining("prompts");
        assertThatThrownBy(() -> DistillationRun.resume(folder).data(new ShapesData(4, new ArrayList<>()))
                .loadOptions(SenseFlowLayoutFrontDoorTest.ONE_THREAD).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("plugins");
        List<Long> second = new ArrayList<>();
        try (DistillationRun r = run(DistillationRun.resume(folder), second, "senseflow").build()) {
            assertThat(r.resumedFrom()).contains(2L);
            assertThat(new String(r.resumedExtra("history.txt").orElseThrow(), StandardCharsets.UTF_8))
                    .isEqualTo("done 2");
            assertThat(r.resumedExtra("absent")).isEmpty();
            r.run(CancellationToken.none());
            Map<String, Tensor> resumed = r.student().snapshot();
            assertThat(resumed.keySet()).isEqualTo(whole.keySet());
            whole.forEach((k, v) -> assertThat(resumed.get(k).toArray()).as(k).containsExactly(v.toArray()));
        }
        assertThat(second).containsExactly(0L, 2L, 3L);
    }

    @Test
    void aDataPluginTakesNoPromptFileNorRealData() {
        Path teacher = dir.resolve("teacher");
        DataPlugin none = c -> null;
        assertThatThrownBy(() -> DistillationRun.builder(teacher).folder(dir.resolve("a")).data(none)
                .prompts(dir.resolve("p.txt")).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("no prompt file with a data plug-in");
        assertThatThrownBy(() -> DistillationRun.builder(teacher).folder(dir.resolve("b")).data(none)
                .realData(dir).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("no real data with a data plug-in");
        DistillationRun.Builder b = DistillationRun.builder(teacher);
        for (String bad : List.of("", ".x", "a/b")) {
            assertThatThrownBy(() -> b.checkpointExtra(bad, r -> new byte[0])).as(bad)
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("checkpointExtra name");
        }
        assertThatThrownBy(() -> b.checkpointMetadata(" ", "v")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("checkpointMetadata key");
    }
}
