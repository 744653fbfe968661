package io.senseflow.examples.distill;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.run.DistillationRun;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Shapes training loop ({@link DistillRun} around {@link DistillationSession}, what {@code senseflow distill}
 * without {@code --prompts} and {@code senseflow quickstart} run) and a {@link DistillationRun} given the Shapes
 * plug-ins ({@link ShapesDistillationData} as {@code data}, {@link ShapesDiscriminator} as {@code discriminator}, the
 * tracking probe, the Shapes path's TensorFlow options with Grappler on, a wide {@code losses.csv} from a
 * {@link RunHistory}, {@link StudentExport} as {@code exporter}) write the same bits: every module's parameters and
 * optimizer slots in the last checkpoint, the student's {@code transformer/model.onnx}, and {@code losses.csv} in all
 * columns but the wall time {@code ms}. This is what lets the Shapes commands move onto the front door.
 */
class ShapesPathOnFrontDoorTest {
    @TempDir
    Path dir;

    @Test
    void theFrontDoorWithTheShapesPluginsReproducesTheShapesPathBitForBit() throws Exception {
        Path teacherDir = TinyShapesTeacher.write(dir.resolve("teacher"), 5);
        TeacherFolder teacher = TeacherFolder.read(teacherDir);
        DistillationConfig cfg = ShapesPresets.named("senseflow").toBuilder().iterations(4).batchSize(2).build();

        Path shapesOut = dir.resolve("shapes");
        DistillRun.prepare(new DistillRun.Request(teacher, cfg, "senseflow", shapesOut, null, false, 2, 0, -1,
                new DistillationSession.Settings(1, null, null, 2), "test")).run(CancellationToken.none(), List.of(),
                null, line -> { });

        Path frontOut = dir.resolve("front");
        RunHistory history = new RunHistory();
        try (DistillationRun run = DistillationRun.builder(teacherDir).folder(frontOut).config(cfg).checkpointEvery(2)
                .loadOptions(LoadOptions.builder().sessionConfig(SessionConfig.builder().intraOpThreads(1).build())
                        .build())
                .threads(1).sessionOptions(TfSessionOptions.defaults().withIntraOpThreads(1)).trackingProbe(2)
                .data(new FrontDoorDataPluginTest.ShapesData(cfg.seed(), new ArrayList<>()))
                .discriminator(ShapesDiscriminator.forTeacher(teacher.transformerConfig(), null))
                .listener(history::add)
                .lossesFile(r -> history.lossesCsv().getBytes(StandardCharsets.UTF_8))
                .checkpointMetadata("preset", "senseflow")
                .checkpointExtra("losses.csv", r -> history.lossesCsv().getBytes(StandardCharsets.UTF_8))
                .exporter((r, d) -> StudentExport.write(teacher, r.modules().studentGraph(), r.shippedStudent(),
                        r.config().anchors(), "senseflow-shapes-student", Map.of("preset", "senseflow"), d))
                .build()) {
            run.run(CancellationToken.none());
            run.exportStudent(frontOut.resolve("student"));
        }

        Path a = shapesOut.resolve("checkpoints/checkpoint-000000004");
        Path b = frontOut.resolve("checkpoints/checkpoint-000000004");
        List<Path> modules;
        try (var files = Files.list(a)) {
            modules = files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().toList();
        }
        assertThat(modules.stream().map(p -> p.getFileName().toString())).contains("generator.safetensors",
                "generator.optimizer.safetensors", "fake_score.safetensors", "discriminator.safetensors",
                "discriminator.optimizer.safetensors");
        for (Path m : modules) {
            assertThat(Files.readAllBytes(b.resolve(m.getFileName().toString()))).as(m.getFileName().toString())
                    .isEqualTo(Files.readAllBytes(m));
        }
        assertThat(Files.readAllBytes(frontOut.resolve("student/transformer/model.onnx")))
                .isEqualTo(Files.readAllBytes(shapesOut.resolve("student/transformer/model.onnx")));
        assertThat(withoutMs(frontOut.resolve("losses.csv"))).isEqualTo(withoutMs(shapesOut.resolve("losses.csv")))
                .hasSize(5);
    }

    /** The CSV's rows without the last column (the wall time {@code ms}). */
    private static List<String> withoutMs(Path csv) throws java.io.IOException {
        List<String> rows = Files.readAllLines(csv);
        assertThat(rows.get(0)).endsWith(",ms");
        return rows.stream().map(r -> r.substring(0, r.lastIndexOf(','))).toList();
    }
}
