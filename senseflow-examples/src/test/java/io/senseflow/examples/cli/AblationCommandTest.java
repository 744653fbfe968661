package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.examples.distill.TinyShapesTeacher;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code senseflow ablation} end to end on a tiny random teacher and an untrained classifier (numbers meaningless,
 * plumbing real): a preset over two distillation seeds at the same budget, teacher baselines, the table with mean
 * and spread, a grid per row, the curves; run again, it reuses the finished runs and the teacher's cached rows.
 */
class AblationCommandTest {
    @TempDir
    Path dir;

    @Test
    void distilsEveryPresetAndSeedThenTabulates() throws IOException {
        Path teacher = TinyShapesTeacher.write(dir.resolve("teacher"), 5);
        Path classifier = TinyShapesTeacher.untrainedClassifier(dir.resolve("classifier.onnx"));
        Path out = dir.resolve("out");
        String[] args = {"ablation", "--teacher", teacher.toString(), "--classifier", classifier.toString(),
            "--out", out.toString(), "--presets", "senseflow", "--seeds", "2", "--same-eval-seed",
            "--iterations", "2", "--teacher-steps", "6,2", "--eval-samples", "4", "--held-out", "2",
            "--curve-every", "1", "--curve-samples", "2", "--threads", "1", "--quiet"};
        DistillCommandTest.Run r = DistillCommandTest.run(args);
        assertThat(r.code()).as(r.err()).isZero();
        for (String run : List.of("senseflow-seed0", "senseflow-seed1")) {
            assertThat(out.resolve("runs").resolve(run).resolve("losses.csv")).as(run).isRegularFile();
        }
        String table = Files.readString(out.resolve("ablation.md"));
        assertThat(table).contains("over 2 distillation seed(s)").contains("| teacher, 6 Euler steps | 12 |")
                .contains("| teacher, 2 Euler steps | 4 |").contains("| senseflow | 4 |")
                .contains("Budget: 2 iterations of batch 16");
        // students: mean ± half range over the seeds
        assertThat(table.lines().filter(l -> l.startsWith("| senseflow |")).findFirst().orElseThrow()).contains("±");
        for (String grid : List.of("teacher-6-Euler-steps.png", "teacher-2-Euler-steps.png", "senseflow.png")) {
            assertThat(out.resolve("grids").resolve(grid)).as(grid).isRegularFile();
        }
        assertThat(out.resolve("curves.png")).isRegularFile();
        JsonObject json = Json.parseObject(Files.readString(out.resolve("ablation.json")));
        List<Object> per = json.getArray("per_evaluation_seed");
        assertThat(per).hasSize(2);
        JsonObject first = JsonObject.of(Json.members((Map<?, ?>) per.get(0)));
        JsonObject second = JsonObject.of(Json.members((Map<?, ?>) per.get(1)));
        assertThat(first.getLong("seed")).isEqualTo(second.getLong("seed"));
        // the teacher's rows are measured once and reused for the second distillation seed, identical
        JsonObject t1 = JsonObject.of(Json.members((Map<?, ?>) first.getArray("rows").get(0)));
        JsonObject t2 = JsonObject.of(Json.members((Map<?, ?>) second.getArray("rows").get(0)));
        assertThat(t2.getBoolean("cached", false)).isTrue();
        assertThat(t2.getDouble("fd_data")).isEqualTo(t1.getDouble("fd_data"));
        assertThat(r.err()).contains("teacher, 6 Euler steps: measured before (cached)");

        // again: every run is complete, nothing is distilled
        DistillCommandTest.Run again = DistillCommandTest.run(args);
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.err()).contains("senseflow seed 1: complete in").doesNotContain("distilling into");
    }
}
