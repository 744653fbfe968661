package io.senseflow.tf.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.io.FileTrees;
import io.senseflow.json.Json;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The front door with everything it takes besides a teacher and prompts, on the shared Optimum SD3 fixture: the
 * shared DINOv2 export as the VFM discriminator's backbone ({@code --backbone}), a folder of PNG images as real data
 * ({@code --data}, encoded with the folder's {@code vae_encoder/}), a JSONL prompt file with per-prompt guidance, and
 * the prompt-embedding cache. The discriminator's heads train; a run stopped after iteration 1 and resumed from a copy
 * of its folder reads the embeddings and the images' latents from the run folder (no text or VAE encoder call) and ends with the student, the discriminator
 * heads and the losses bit-identical to the uninterrupted run's. (A corrupted cache is rebuilt:
 * {@link DistillationRunVfmFamiliesTest}, tagged experiment; its rejection reasons: {@link DistillationRunInputsTest}.)
 */
class DistillationRunDataTest {
    static final String DINO = "vision-backbones/dinov2_small_random.onnx";
    /** Image size: 48 x 48 pixels, 6 x 6 latents (SD3 takes multiples of 16), resized to DINOv2's 42 x 42. */
    static final int S = 48;

    @TempDir
    Path dir;

    Path images() throws IOException {
        Path d = Files.createDirectories(dir.resolve("images"));
        Color[] colours = {Color.RED, new Color(30, 160, 40), new Color(40, 60, 200)};
        for (int i = 0; i < colours.length; i++) {
            BufferedImage img = new BufferedImage(S, S, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, S, S);
            g.setColor(colours[i]);
            g.fillOval(4 + 5 * i, 6, 24 + 4 * i, 30 - 3 * i);
            g.dispose();
            ImageIO.write(img, "png", d.resolve("img" + i + ".png").toFile());
        }
        return d;
    }

    Path jsonl() throws IOException {
        Path p = dir.resolve("prompts.jsonl");
        Files.writeString(p, "{\"prompt\": \"a red circle\", \"guidance\": 4.5}\n"
                + "{\"prompt\": \"a green ellipse\", \"negative_prompt\": \"blurry\", \"guidance\": 2}\n"
                + "{\"prompt\": \"a blue oval\"}\n");
        return p;
    }

    DistillationRun.Builder run(Path teacher, Path folder, Path images, Path prompts) {
        return DistillationRun.builder(teacher).prompts(prompts).folder(folder).recipe(Recipe.SENSEFLOW)
                .iterations(2).batchSize(1).seed(5).checkpointEvery(1).imageSize(S, S)
                .loadOptions(DistillationRunTest.OPTIONS).threads(2).backbone(Fixtures.path(DINO)).realData(images);
    }

    @Test
    void vfmDiscriminatorOnRealImagesTrainsAndResumesBitIdenticallyFromTheEmbeddingCache() throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path images = images();
        Path prompts = jsonl();
        Path runA = dir.resolve("run-a");
        Path runB = dir.resolve("run-b");
        List<IterationMetrics> metrics = new ArrayList<>();
        Map<String, Tensor> student;
        Map<String, Tensor> heads;
        long t0 = System.nanoTime();
        try (DistillationRun r = run(teacher, runA, images, prompts).listener(metrics::add).build()) {
            long built = System.nanoTime();
            assertThat(r.encodedPrompts()).isEqualTo(3 + 2); // three prompts, negatives "" and "blurry"
            assertThat(r.embeddingCache()).isEqualTo("written");
            assertThat(r.realSamples()).isEqualTo(3);
            assertThat(r.encodedImages()).isEqualTo(3);
            assertThat(r.memoryEstimate().table()).contains("VFM heads").contains("VAE decoder");
            Map<String, Tensor> initialHeads = r.discriminatorParameters().orElseThrow().snapshot();
            r.runUntil(1, CancellationToken.none());
            assertThat(r.discriminatorParameters().orElseThrow().snapshot()).isNotEqualTo(initialHeads);
            FileTrees.copy(runA, runB); // the run as it was after iteration 1: checkpoint 1, embeddings, losses
            r.run(CancellationToken.none());
            System.out.printf("sd3 + DINOv2 + images: build %.1f s, 2 iterations %.1f s; phases of the first (ms) %s%n",
                    (built - t0) / 1e9, (System.nanoTime() - built) / 1e9, metrics.get(0).phaseNanos().entrySet()
                            .stream().map(e -> e.getKey() + "=" + e.getValue() / 1_000_000).toList());
            student = r.student().snapshot();
            heads = r.discriminatorParameters().orElseThrow().snapshot();
        }
        assertThat(metrics).hasSize(2);
        assertThat(metrics.get(0).losses()).containsKeys("dmd", "gan"); // the generator steps on iteration 0 (TTUR)
        for (IterationMetrics m : metrics) {
            assertThat(m.losses()).containsKeys("fake_score", "discriminator_real", "discriminator_fake");
            m.losses().forEach((k, v) -> assertThat(v).as(k).isFinite());
        }
        assertThat(Json.parseObject(Files.readString(runA.resolve(DistillationRun.RUN_JSON))).getLong("data_count"))
                .isEqualTo(3);

        long t1 = System.nanoTime();
        try (DistillationRun r = DistillationRun.resume(runB).imageSize(S, S).loadOptions(DistillationRunTest.OPTIONS)
                .threads(2).build()) {
            assertThat(r.resumedFrom()).contains(1L);
            assertThat(r.encodedPrompts()).isZero();
            assertThat(r.embeddingCache()).isEqualTo("read");
            assertThat(r.encodedImages()).isZero(); // the images' latents from the run folder too
            assertThat(r.realSamples()).isEqualTo(3);
            r.run(CancellationToken.none());
            System.out.printf("resume (embeddings from the cache) and 1 iteration: %.1f s%n",
                    (System.nanoTime() - t1) / 1e9);
            assertBitIdentical(r.student().snapshot(), student, "student");
            assertBitIdentical(r.discriminatorParameters().orElseThrow().snapshot(), heads, "discriminator");
        }
        assertThat(Files.readAllLines(runB.resolve(DistillationRun.LOSSES)))
                .isEqualTo(Files.readAllLines(runA.resolve(DistillationRun.LOSSES)));
    }

    static void assertBitIdentical(Map<String, Tensor> got, Map<String, Tensor> want, String what) {
        assertThat(got.keySet()).as(what).isEqualTo(want.keySet());
        for (String k : want.keySet()) {
            assertThat(got.get(k).toArray()).as(what + " " + k).containsExactly(want.get(k).toArray());
        }
    }
}
