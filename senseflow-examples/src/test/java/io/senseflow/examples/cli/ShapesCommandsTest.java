package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Shapes commands end to end on tiny configurations (a few iterations each): train-classifier, train-autoencoder,
 * train-teacher (then resumed), generate on the teacher folder, eval with FD-T against the teacher itself; and the
 * errors a user meets before any work starts.
 */
class ShapesCommandsTest {
    @TempDir
    Path dir;

    static GenerateCommandTest.Run run(String... args) {
        return GenerateCommandTest.run(args);
    }

    static JsonObject json(Path file) throws Exception {
        return Json.parseObject(Files.readString(file));
    }

    @Test
    void trainAutoencoderThenTeacherThenGenerateThenEval() throws Exception {
        Path cls = dir.resolve("classifier");
        GenerateCommandTest.Run c = run("train-classifier", "--out", cls.toString(), "--steps", "12", "--batch", "8",
                "--eval-images", "16", "--quiet");
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(cls.resolve("model.onnx")).isRegularFile();
        JsonObject cp = json(cls.resolve("provenance.json"));
        assertThat(cp.getLong("iterations")).isEqualTo(12);
        assertThat(cp.getObject("metrics").getObject("accuracy_on_renders").getObject("train").getLong("count")).isEqualTo(16);

        Path ae = dir.resolve("ae");
        GenerateCommandTest.Run a = run("train-autoencoder", "--out", ae.toString(), "--steps", "6", "--batch", "4",
                "--channels", "8,8,8", "--groups", "4", "--object-weight", "5", "--eval-images", "8", "--classifier",
                cls.toString(), "--threads", "1", "--quiet");
        assertThat(a.code()).as(a.err()).isZero();
        assertThat(ae.resolve("vae_encoder/model.onnx")).isRegularFile();
        assertThat(ae.resolve("vae_decoder/model.onnx")).isRegularFile();
        assertThat(ae.resolve("reconstructions.png")).isRegularFile();
        JsonObject ap = json(ae.resolve("provenance.json"));
        assertThat(ap.getLong("iterations")).isEqualTo(6);
        assertThat(ap.getDouble("wall_time_s")).isPositive();
        JsonObject train = ap.getObject("metrics").getObject("reconstruction").getObject("train");
        assertThat(train.getDouble("psnr_db")).isFinite();
        assertThat(train.has("accuracy_reconstructions")).isTrue();

        Path run = dir.resolve("teacher-run");
        String[] teacherArgs = {"train-teacher", "--out", run.toString(), "--autoencoder", ae.toString(), "--steps", "8",
            "--batch", "4", "--pool", "16", "--width", "32", "--depth", "1", "--heads", "2", "--text-width", "16",
            "--text-depth", "1", "--warmup", "2", "--checkpoint-every", "4", "--publish-every", "4", "--eval-count", "4",
            "--eval-steps", "3", "--classifier", cls.toString(), "--threads", "1", "--quiet"};
        GenerateCommandTest.Run t = run(teacherArgs);
        assertThat(t.code()).as(t.err()).isZero();
        Path teacher = run.resolve("teacher");
        assertThat(teacher.resolve("model_index.json")).isRegularFile();
        assertThat(teacher.resolve("provenance.json")).isRegularFile();
        assertThat(Files.readAllLines(run.resolve("eval-log.jsonl"))).hasSize(2);
        JsonObject tp = json(run.resolve("provenance.json"));
        assertThat(tp.getLong("iterations")).isEqualTo(8);
        assertThat(tp.getObject("metrics").getObject("seen_classifier").getLong("count")).isEqualTo(4);

        // the same command again finds the finished run's checkpoint and does no more steps
        GenerateCommandTest.Run again = run(teacherArgs);
        assertThat(again.code()).as(again.err()).isZero();
        assertThat(again.err()).contains("resumed from the checkpoint at step 8");

        Path png = dir.resolve("gen/img.png");
        GenerateCommandTest.Run g = run("generate", "--model", teacher.toString(), "--prompt",
                "a large red circle in the center on a dark background", "--steps", "4", "--out", png.toString(), "--quiet");
        assertThat(g.code()).as(g.err()).isZero();
        assertThat(png).isRegularFile();

        Path ev = dir.resolve("eval");
        GenerateCommandTest.Run e = run("eval", "--model", teacher.toString(), "--teacher", teacher.toString(), "--count",
                "8", "--held-out", "4", "--steps", "3", "--teacher-steps", "3", "--classifier", cls.toString(), "--out",
                ev.toString(), "--threads", "1");
        assertThat(e.code()).as(e.err()).isZero();
        JsonObject m = json(ev.resolve("metrics.json"));
        assertThat(m.getObject("adherence_seen").getLong("count")).isEqualTo(8);
        assertThat(m.getObject("adherence_held_out").getLong("count")).isEqualTo(4);
        assertThat(m.getDouble("fd_data")).isFinite().isPositive();
        assertThat(m.getDouble("fd_real_vs_real_floor")).isFinite().isPositive();
        // the same model, prompts, noise and steps as its reference: identical images, FD-T 0
        assertThat(m.getDouble("fd_teacher")).isCloseTo(0, org.assertj.core.api.Assertions.within(1e-6));
        assertThat(Files.readString(ev.resolve("metrics.md"))).contains("| seen | 8 |").contains("FD-data");
        assertThat(ev.resolve("samples.png")).isRegularFile();
    }

    @Test
    void badInputIsRefusedBeforeAnyWork() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        GenerateCommandTest.Run r = run("train-autoencoder", "--out", file.toString(), "--steps", "1", "--classifier", "none");
        assertThat(r.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(r.err()).contains("--out").contains("a folder").contains("an existing file");

        r = run("train-teacher", "--out", dir.resolve("t").toString(), "--autoencoder", dir.resolve("nope").toString());
        assertThat(r.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(r.err()).contains("--autoencoder").contains("vae_encoder/model.onnx");

        r = run("train-autoencoder", "--out", dir.resolve("ae").toString(), "--channels", "8,12", "--groups", "8",
                "--classifier", "none");
        assertThat(r.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(r.err()).contains("channels[1]").contains("12");

        r = run("eval", "--model", dir.resolve("missing").toString(), "--out", dir.resolve("ev").toString(),
                "--classifier", dir.resolve("no-classifier").toString());
        assertThat(r.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(r.err()).contains("--classifier").contains("no-classifier");

        r = run("train-classifier", "--out", dir.resolve("c").toString(), "--steps", "0");
        assertThat(r.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(r.err()).contains("steps");
    }
}
