package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.examples.distill.ShapesPresets;
import io.senseflow.examples.distill.TinyShapesTeacher;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.OptimizerState;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input to {@code senseflow distill} is refused before any work (no TensorFlow graph is built, no checkpoint or
 * student is written), with a message that names the option or file, what was expected and what was found.
 */
class DistillBadInputTest {
    @TempDir
    static Path shared;
    static Path teacher;

    @TempDir
    Path dir;

    @BeforeAll
    static void writeTeacher() {
        teacher = TinyShapesTeacher.write(shared.resolve("teacher"), 3);
    }

    static DistillCommandTest.Run distill(Path out, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("distill", "--teacher", teacher.toString(), "--out",
                out.toString(), "--quiet"));
        a.addAll(List.of(more));
        return DistillCommandTest.run(a.toArray(new String[0]));
    }

    static List<String> tree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.map(p -> root.relativize(p).toString()).sorted().toList();
        }
    }

    @Test
    void unknownPresetNamesTheValidOnes() throws IOException {
        Path out = dir.resolve("run");
        DistillCommandTest.Run r = distill(out, "--preset", "senseflow-xl");
        assertThat(r.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(r.err()).contains("preset: expected one of vanilla-dmd, dmd+ida, dmd+ida+isg, senseflow, got"
                + " \"senseflow-xl\"");
        assertThat(out).doesNotExist();
    }

    @Test
    void badConfigFilesNameTheFileAndTheField() throws IOException {
        Path out = dir.resolve("run");
        DistillCommandTest.Run missing = distill(out, "--config", dir.resolve("nope.json").toString());
        assertThat(missing.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(missing.err()).contains("--config: expected a DistillationConfig JSON file, got").contains("nope.json"
                + " (no such file)");

        Path broken = dir.resolve("broken.json");
        Files.writeString(broken, "{\"seed\": 1, ");
        DistillCommandTest.Run syntax = distill(out, "--config", broken.toString());
        assertThat(syntax.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(syntax.err()).contains("--config " + broken).contains("--print-config");

        Path misspelt = dir.resolve("misspelt.json");
        Files.writeString(misspelt, ShapesPresets.named("senseflow").toJson().replace("\"ttur\"", "\"tturr\""));
        DistillCommandTest.Run field = distill(out, "--config", misspelt.toString());
        assertThat(field.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(field.err()).contains("--config " + misspelt).contains("tturr");

        Path invalid = dir.resolve("invalid.json");
        Files.writeString(invalid, ShapesPresets.named("senseflow").toJson().replace("\"lambda\": 0.97",
                "\"lambda\": 1.5"));
        DistillCommandTest.Run value = distill(out, "--config", invalid.toString());
        assertThat(value.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(value.err()).contains("ida.lambda: expected a value in [0, 1), got 1.5");
        assertThat(out).doesNotExist();
    }

    @Test
    void anOutputFolderThatCannotBeWrittenIsRefused() throws IOException {
        Path file = dir.resolve("a-file");
        Files.writeString(file, "x");
        DistillCommandTest.Run r = distill(file);
        assertThat(r.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(r.err()).contains("--out: expected a folder, got " + file + " (an existing file)");
        DistillCommandTest.Run below = distill(file.resolve("run"));
        assertThat(below.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(below.err()).contains("--out: expected a folder this process can write to, got " + file.resolve("run"));
    }

    @Test
    void resumingNeedsACheckpointOfTheSameConfigAndTeacher() throws IOException {
        Path out = dir.resolve("run");
        DistillCommandTest.Run none = distill(out, "--resume");
        assertThat(none.code()).isEqualTo(1);
        assertThat(none.err()).contains("--resume: no checkpoint to resume from in " + out.resolve("checkpoints"));

        // a run of the senseflow preset with seed 1 stopped at iteration 3 (its checkpoint, written directly)
        DistillationConfig cfg = ShapesPresets.named("senseflow").toBuilder().seed(1).build();
        TrainingSnapshot s = new TrainingSnapshot(3, 0, cfg.toJson(), Map.of("generator", Map.of("w", Tensor.zeros(2))),
                Map.of("generator", new OptimizerState(1, Map.of())));
        CheckpointStore.at(out.resolve("checkpoints")).save(s, Map.of(), Map.of("teacher_fingerprint", "0".repeat(64),
                "teacher", "/elsewhere/teacher"));
        List<String> before = tree(out);

        DistillCommandTest.Run otherConfig = distill(out, "--resume", "--seed", "2");
        assertThat(otherConfig.code()).isEqualTo(1);
        assertThat(otherConfig.err()).contains("the checkpoint was written by a run with another config")
                .contains("seed: 1 vs 2");
        DistillCommandTest.Run otherPreset = distill(out, "--resume", "--seed", "1", "--preset", "dmd+ida");
        assertThat(otherPreset.err()).contains("another config").contains("gan.enabled: true vs false");
        DistillCommandTest.Run otherTeacher = distill(out, "--resume", "--seed", "1");
        assertThat(otherTeacher.code()).isEqualTo(1);
        assertThat(otherTeacher.err()).contains("distilled from another teacher").contains("/elsewhere/teacher");
        DistillCommandTest.Run fresh = distill(out, "--seed", "1");
        assertThat(fresh.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(fresh.err()).contains("--out: expected a folder without a run in it, or --resume to continue the run"
                + " there").contains("checkpoint-000000003");
        assertThat(tree(out)).isEqualTo(before);
    }

    @Test
    void missingTeacherAndOptionsAreNamed() {
        DistillCommandTest.Run noTeacher = DistillCommandTest.run("distill", "--teacher", dir.resolve("none").toString(),
                "--out", dir.resolve("run").toString());
        assertThat(noTeacher.code()).isEqualTo(SenseFlowCli.EXIT_MODEL);
        assertThat(noTeacher.err()).contains("teacher folder " + dir.resolve("none") + " does not exist");
        DistillCommandTest.Run stop = distill(dir.resolve("run2"), "--stop-at", "0");
        assertThat(stop.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(stop.err()).contains("--stop-at: expected an iteration in [1, "
                + io.senseflow.examples.distill.ShapesPresets.ITERATIONS + "], got 0");
    }

    @Test
    void printConfigWritesAConfigThatReadsBack() {
        DistillCommandTest.Run r = DistillCommandTest.run("distill", "--preset", "dmd+ida+isg", "--seed", "9",
                "--print-config");
        assertThat(r.code()).as(r.err()).isZero();
        DistillationConfig c = DistillationConfig.fromJson(r.out());
        assertThat(c).isEqualTo(ShapesPresets.named("dmd+ida+isg").toBuilder().seed(9).build());
        assertThat(c.isg().enabled()).isTrue();
        assertThat(c.gan().enabled()).isFalse();
    }
}
