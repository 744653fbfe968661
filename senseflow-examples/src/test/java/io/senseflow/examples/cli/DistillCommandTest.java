package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.examples.distill.DistillRun;
import io.senseflow.examples.distill.ShapesPresets;
import io.senseflow.examples.distill.TinyShapesTeacher;
import io.senseflow.image.Image;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.OptimizerState;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code senseflow distill} in-process on a tiny random Shapes-geometry teacher: a few iterations of the senseflow
 * preset end to end (checkpoints, curves, export, {@code generate} on the student), an interrupted run resumed to the
 * same bits as an uninterrupted one, and every bad input refused before any work with a message naming it.
 */
class DistillCommandTest {
    @TempDir
    static Path shared;
    static Path teacher;

    @TempDir
    Path dir;

    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = SenseFlowCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    @BeforeAll
    static void writeTeacher() {
        teacher = TinyShapesTeacher.write(shared.resolve("teacher"), 11);
    }

    /** The options of every tiny run: 8 iterations of batch 2, generator step every 2nd, single-threaded. */
    static String[] tiny(Path out, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("distill", "--teacher", teacher.toString(), "--out",
                out.toString(), "--iterations", "8", "--batch", "2", "--checkpoint-every", "4", "--threads", "1",
                "--config", config().toString(), "--classifier", "none"));
        a.addAll(List.of(more));
        return a.toArray(new String[0]);
    }

    /** The sampler of the exported student: the preset's anchors, then 0, as the image metadata prints them. */
    static String expectedSigmas() {
        List<Float> sigmas = new java.util.ArrayList<>();
        for (double a : ShapesPresets.named("senseflow").anchors()) {
            sigmas.add((float) a);
        }
        sigmas.add(0f);
        return sigmas.toString();
    }

    /** The senseflow preset with TTUR 2, so that 8 iterations hold 4 generator steps. */
    static Path config() {
        Path file = shared.resolve("senseflow-ttur2.json");
        if (!Files.exists(file)) {
            DistillationConfig c = ShapesPresets.named("senseflow").toBuilder().ttur(2).build();
            write(file, c.toJson());
        }
        return file;
    }

    static void write(Path file, String text) {
        try {
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void distilsExportsAndResumesBitForBit() throws IOException {
        // uninterrupted
        Path a = dir.resolve("a");
        Run full = run(tiny(a));
        assertThat(full.code()).as(full.err()).isZero();
        assertThat(full.err()).contains("distill [").contains("8/8").contains("dmd").contains("isg").contains("gan")
                .contains("it/s").contains("ETA");
        assertThat(full.out()).contains("student:").contains(a.resolve("student").toString());
        assertThat(a.resolve("curves.png")).isRegularFile();
        assertThat(Files.readAllLines(a.resolve("losses.csv"))).hasSize(9)
                .first().isEqualTo("iteration,dmd,isg,gan,fake_score,discriminator_real,discriminator_fake,track.fake_loss,"
                        + "track.teacher_loss,track.loss_ratio,track.dmd,track.guidance,track.fake_vs_teacher,"
                        + "track.guidance_cosine,track.dmd_normalised,ms");
        // the tracking probe ran before iteration 0 (every 25 iterations by default) and only then
        List<String> rows = Files.readAllLines(a.resolve("losses.csv"));
        assertThat(rows.get(1).split(",", -1)[7]).as("track.fake_loss at iteration 0").isNotEmpty();
        assertThat(rows.get(2).split(",", -1)[7]).as("track.fake_loss at iteration 1").isEmpty();
        assertThat(CheckpointStore.at(a.resolve("checkpoints")).list()).hasSize(2);

        // the student is a deployable few-step model that generate loads
        Path png = dir.resolve("s.png");
        Run g = run("generate", "--model", a.resolve("student").toString(), "--prompt",
                "a small red circle at the top left on a dark background", "--seed", "4", "--threads", "1", "--out",
                png.toString(), "--quiet");
        assertThat(g.code()).as(g.err()).isZero();
        Image image = Image.read(png);
        assertThat(image.width()).isEqualTo(32);
        assertThat(image.metadata()).containsEntry("steps", "4").containsEntry("senseflow_checkpoint", "true")
                .containsEntry("guidance_mode", "none").containsEntry("sigmas", expectedSigmas());
        try (LoadedModel student = Models.load(a.resolve("student"));
             LoadedModel t = Models.load(teacher)) {
            assertThat(student.senseflowCheckpoint()).isTrue();
            GenerationRequest req = GenerationRequest.builder().prompt("a large blue square in the center on a light"
                    + " background").seed(2).numInferenceSteps(4).build();
            Tensor s1 = student.pipeline().generate(req).latents();
            Tensor s2 = student.pipeline().generate(req).latents();
            assertThat(s1).isEqualTo(s2);
            // trained: the student's velocity is no longer the teacher's
            Tensor x = io.senseflow.noise.GaussianNoise.sample(1, 0, 0, 1, 4, 8, 8);
            var c = t.promptEncoder().encode(List.of("a small red circle at the top left on a dark background"));
            Tensor vs = student.generator().velocity(x, new float[] {0.75f}, c);
            Tensor vt = t.generator().velocity(x, new float[] {0.75f}, c);
            assertThat(vs.sub(vt).maxAbs()).isGreaterThan(1e-4f);
        }
        String provenance = Files.readString(a.resolve("student/provenance.json"));
        assertThat(provenance).contains("\"iterations\": 8").contains("teacher_fingerprint").contains("\"preset\"");

        // interrupted before iteration 5 (as Ctrl-C would), then resumed: the same checkpoint at iteration 8
        Path b = dir.resolve("b");
        Run stopped = run(tiny(b, "--stop-at", "5"));
        assertThat(stopped.code()).as(stopped.err()).isEqualTo(SenseFlowCli.EXIT_CANCELLED);
        assertThat(stopped.err()).contains("stopped before iteration 5").contains("--resume");
        assertThat(b.resolve("checkpoints/checkpoint-000000005")).isDirectory();
        assertThat(b.resolve("student")).doesNotExist();
        Run resumed = run(tiny(b, "--resume"));
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(resumed.err()).contains("resumed from").contains("iteration 5");
        assertSameState(a.resolve("checkpoints/checkpoint-000000008"), b.resolve("checkpoints/checkpoint-000000008"));
        assertThat(Files.readString(b.resolve("losses.csv")).lines().map(l -> l.substring(0, l.lastIndexOf(','))))
                .isEqualTo(Files.readString(a.resolve("losses.csv")).lines().map(l -> l.substring(0, l.lastIndexOf(',')))
                        .toList());
    }

    /** Every module's parameters and optimizer slots are byte-identical files; the optimizer steps agree. */
    static void assertSameState(Path x, Path y) throws IOException {
        List<String> files;
        try (Stream<Path> s = Files.list(x)) {
            files = s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".safetensors")).sorted().toList();
        }
        assertThat(files).contains("generator.safetensors", "fake_score.safetensors", "discriminator.safetensors",
                "generator.optimizer.safetensors", "fake_score.optimizer.safetensors",
                "discriminator.optimizer.safetensors");
        for (String f : files) {
            assertThat(Files.readAllBytes(y.resolve(f))).as(f).isEqualTo(Files.readAllBytes(x.resolve(f)));
        }
        TrainingSnapshot sx = CheckpointStore.load(x).snapshot();
        TrainingSnapshot sy = CheckpointStore.load(y).snapshot();
        assertThat(sy.iteration()).isEqualTo(sx.iteration());
        for (Map.Entry<String, OptimizerState> e : sx.optimizers().entrySet()) {
            assertThat(sy.optimizers().get(e.getKey()).step()).as(e.getKey()).isEqualTo(e.getValue().step());
        }
        try (SafetensorsFile g = SafetensorsFile.open(x.resolve("generator.safetensors"))) {
            assertThat(g.names()).isNotEmpty();
        }
    }
}
