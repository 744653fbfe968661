package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.examples.distill.ShapesDistillationData;
import io.senseflow.examples.distill.ShapesPresets;
import io.senseflow.examples.distill.ShapesRun;
import io.senseflow.examples.distill.TinyShapesTeacher;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.run.DistillationRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Shapes commands on the front door: the folder of {@code senseflow distill} on a Shapes teacher (no
 * {@code --prompts}) is a {@link DistillationRun} folder ({@code run.json} in the front door's format, with
 * {@code info.path: shapes}, the preset and the command); {@code --resume RUN} alone continues it with the teacher
 * {@code run.json} names, to the bits of an uninterrupted run; a fresh run in the folder of an attempt that never
 * reached a checkpoint starts again; a folder of an earlier version's Shapes run (another {@code run.json}) is refused
 * naming the file, and nothing in it is touched.
 */
class ShapesRunFolderTest {
    @TempDir
    Path dir;

    private static DistillCommandTest.Run cli(String... args) {
        return DistillCommandTest.run(args);
    }

    private String[] tiny(Path teacher, Path out, String... more) {
        return tiny(teacher, out, 4, more);
    }

    private String[] tiny(Path teacher, Path out, int iterations, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("distill", "--teacher", teacher.toString(), "--out",
                out.toString(), "--iterations", Integer.toString(iterations), "--batch", "2", "--checkpoint-every", "2", "--threads", "1",
                "--classifier", "none", "--quiet"));
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    @Test
    void aShapesRunIsAFrontDoorRunThatResumesFromItsFolderAlone() throws Exception {
        Path teacher = TinyShapesTeacher.write(dir.resolve("teacher"), 5);
        Path whole = dir.resolve("whole");
        DistillCommandTest.Run full = cli(tiny(teacher, whole));
        assertThat(full.code()).as(full.err()).isZero();

        JsonObject runJson = Json.parseObject(Files.readString(whole.resolve(DistillationRun.RUN_JSON)));
        assertThat(DistillationRun.isRun(whole)).isTrue();
        assertThat(ShapesRun.isShapesRun(whole)).isTrue();
        assertThat(runJson.getString("teacher", "")).isEqualTo(teacher.toAbsolutePath().normalize().toString());
        assertThat(runJson.getObject("info").asMap()).containsEntry("path", "shapes").containsEntry("preset",
                "senseflow").containsEntry("discriminator", "fake-score-features").containsKey("command");
        assertThat(runJson.getString("plugins", "")).contains("ShapesDistillationData.Plugin[seed=")
                .contains("ShapesDiscriminator[");
        assertThat(Files.readString(whole.resolve("config.json")).trim()).isEqualTo(ShapesPresets.named("senseflow")
                .toBuilder().iterations(4).batchSize(2).build().toJson().trim());

        // stopped at 2, resumed with the folder alone: the teacher comes from run.json, the bits are the same
        Path split = dir.resolve("split");
        DistillCommandTest.Run stopped = cli(tiny(teacher, split, "--stop-at", "2"));
        assertThat(stopped.code()).as(stopped.err()).isEqualTo(SenseFlowCli.EXIT_CANCELLED);
        byte[] recorded = Files.readAllBytes(split.resolve(DistillationRun.RUN_JSON));
        DistillCommandTest.Run resumed = cli("distill", "--resume", split.toString(), "--iterations", "4", "--batch", "2",
                "--checkpoint-every", "2", "--threads", "1", "--classifier", "none", "--quiet");
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(Files.readAllBytes(split.resolve(DistillationRun.RUN_JSON))).as("run.json kept").isEqualTo(recorded);
        DistillCommandTest.assertSameState(whole.resolve("checkpoints/checkpoint-000000004"),
                split.resolve("checkpoints/checkpoint-000000004"));
        assertThat(Files.readAllBytes(split.resolve("student/transformer/model.onnx")))
                .isEqualTo(Files.readAllBytes(whole.resolve("student/transformer/model.onnx")));

        // the Shapes runs keep Grappler on; run.json says so, and a resume with it off is refused naming the field
        assertThat(runJson.getBoolean("tf_graph_optimizations", false)).isTrue();
        assertThatThrownBy(() -> DistillationRun.resume(split).iterations(6)
                .data(new ShapesDistillationData.Plugin(0)).sessionOptions(TfSessionOptions.defaults()
                        .withIntraOpThreads(1).withGraphOptimizations(false)).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("tf_graph_optimizations")
                .hasMessageContaining("true (the run's)");
    }

    @Test
    void anAttemptWithoutACheckpointStartsAgainAndAnEarlierVersionsRunIsRefusedUntouched() throws Exception {
        Path teacher = TinyShapesTeacher.write(dir.resolve("teacher"), 5);
        // an attempt killed before its first checkpoint: run.json (a Shapes run's) and nothing else
        Path killed = dir.resolve("killed");
        DistillCommandTest.Run first = cli(tiny(teacher, killed, 2));
        assertThat(first.code()).as(first.err()).isZero();
        byte[] runJson = Files.readAllBytes(killed.resolve(DistillationRun.RUN_JSON));
        io.senseflow.io.FileTrees.deleteQuietly(killed);
        Files.createDirectories(killed);
        Files.write(killed.resolve(DistillationRun.RUN_JSON), runJson);
        DistillCommandTest.Run again = cli(tiny(teacher, killed));
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(killed.resolve("checkpoints/checkpoint-000000004")).isDirectory();

        // an earlier version's Shapes run: its own run.json, checkpoints
        Path old = dir.resolve("old");
        Files.createDirectories(old.resolve("checkpoints"));
        String oldJson = "{\"teacher\": \"" + teacher + "\", \"preset\": \"senseflow\"}\n";
        Files.writeString(old.resolve(DistillationRun.RUN_JSON), oldJson);
        for (String[] args : List.of(tiny(teacher, old), tiny(teacher, old, "--resume"))) {
            DistillCommandTest.Run r = cli(args);
            assertThat(r.code()).as(r.err()).isEqualTo(SenseFlowCli.EXIT_INVALID);
            assertThat(r.err()).contains(old.resolve(DistillationRun.RUN_JSON).toString())
                    .contains("a run this version of senseflow distill started");
        }
        assertThat(Files.readString(old.resolve(DistillationRun.RUN_JSON))).isEqualTo(oldJson);
    }
}
