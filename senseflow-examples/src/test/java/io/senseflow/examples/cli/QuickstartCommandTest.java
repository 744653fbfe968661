package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.examples.distill.TinyShapesTeacher;
import io.senseflow.image.Image;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code senseflow quickstart} end to end on a tiny random teacher and an untrained classifier (numbers meaningless,
 * plumbing real): distillation with the progress bar, the labelled grid, the report and metrics with every sampler's
 * row, the student's provenance updated with them, the printed locations; run again, it re-evaluates without
 * distilling again.
 */
class QuickstartCommandTest {
    @TempDir
    Path dir;

    @Test
    void distilsEvaluatesAndReports() throws IOException {
        Path teacher = TinyShapesTeacher.write(dir.resolve("teacher"), 5);
        Path classifier = TinyShapesTeacher.untrainedClassifier(dir.resolve("classifier.onnx"));
        Path out = dir.resolve("out");
        String[] args = {"quickstart", "--teacher", teacher.toString(), "--classifier", classifier.toString(),
            "--out", out.toString(), "--iterations", "3", "--eval-samples", "6", "--held-out", "3", "--threads", "1"};
        DistillCommandTest.Run r = DistillCommandTest.run(args);
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("distill [").contains("3/3").contains("evaluating 5 samplers");
        for (String f : List.of("report.md", "grid.png", "metrics.json", "student/model_index.json",
                "student/provenance.json", "run/curves.png", "run/losses.csv")) {
            assertThat(out.resolve(f)).as(f).isRegularFile();
            assertThat(r.out()).contains(out.resolve(f.contains("/") ? f.substring(0, f.indexOf('/')) : f).toString());
        }
        Image grid = Image.read(out.resolve("grid.png"));
        assertThat(grid.width()).isGreaterThan(8 * 96);
        assertThat(grid.height()).isGreaterThan(3 * 96);

        String report = Files.readString(out.resolve("report.md"));
        assertThat(report).contains("| teacher, 50 steps | 50 | 100 |").contains("| teacher, 8 Euler steps | 8 | 16 |")
                .contains("| teacher, 4 Euler steps | 4 | 8 |").contains("| student, 4 steps | 4 | 4 |")
                .contains("| teacher weights, student's 4-step sampler, no CFG (distillation start) | 4 | 4 |")
                .contains("Real-vs-real FD floor at 6 images").contains("Targets (measured, not enforced)");
        JsonObject metrics = Json.parseObject(Files.readString(out.resolve("metrics.json")));
        JsonObject comparison = metrics.getObject("comparison");
        assertThat(comparison.getArray("rows")).hasSize(5);
        assertThat(comparison.getDouble("fd_real_vs_real_floor")).isGreaterThanOrEqualTo(0);
        // the reference's own FD-T needs a second draw, only with --self-fd
        assertThat(JsonObject.of(Json.members((java.util.Map<?, ?>) comparison.getArray("rows").get(0)))
                .raw("fd_teacher")).isNull();
        assertThat(metrics.getObject("distillation").getLong("iterations")).isEqualTo(3);
        assertThat(Files.readString(out.resolve("student/provenance.json"))).contains("metrics_at_end")
                .contains("\"iterations\": 3");

        // again: the run is complete, so only the evaluation runs
        DistillCommandTest.Run again = DistillCommandTest.run(args);
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.err()).contains("is complete; evaluating it again").doesNotContain("distill [");
        // the teacher's rows come from the first run's cache, equal to what was measured; the student is sampled again
        assertThat(again.err()).contains("teacher, 50 steps: measured before (cached)")
                .contains("teacher, 4 Euler steps: measured before (cached)").contains("student, 4 steps: 6 + 3 images");
        assertThat(Files.readString(out.resolve("report.md"))).contains("| teacher, 50 steps † | 50 | 100 |")
                .contains("† measured earlier");
        List<Object> before = comparison.getArray("rows");
        List<Object> after = Json.parseObject(Files.readString(out.resolve("metrics.json"))).getObject("comparison")
                .getArray("rows");
        for (int i = 0; i < 5; i++) {
            JsonObject b = JsonObject.of(Json.members((java.util.Map<?, ?>) before.get(i)));
            JsonObject a = JsonObject.of(Json.members((java.util.Map<?, ?>) after.get(i)));
            assertThat(a.getDouble("fd_data")).as("row %d", i).isEqualTo(b.getDouble("fd_data"));
            assertThat(a.raw("fd_teacher")).as("row %d", i).isEqualTo(b.raw("fd_teacher"));
            assertThat(a.getObject("adherence_seen").asMap()).isEqualTo(b.getObject("adherence_seen").asMap());
            assertThat(a.getBoolean("cached", false)).as("row %d cached", i).isEqualTo(i < 4);
        }
    }

    @Test
    void aCacheFileThatIsNotOneIsNamed() throws IOException {
        Path bad = dir.resolve("comparison-cache.json");
        Files.writeString(bad, "{\"format\": \"something-else\", \"rows\": {}}");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> io.senseflow.examples.shapes.ShapesModels
                .evaluationCache(bad)).isInstanceOf(io.senseflow.ModelLoadException.class)
                .hasMessageContaining(bad.toString()).hasMessageContaining("something-else");
    }
}
