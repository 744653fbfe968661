package io.senseflow.tf.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A resume over a corrupted prompt-embedding cache rebuilds it with the same bits; and the VFM discriminator and a
 * latents file on the two other Optimum fixtures: FLUX.1-dev (packed tokens, unpacked in
 * front of the TF VAE decoder; the latents file packed by the run) and SDXL (4-channel latents, epsilon UNet). One
 * iteration with the shared DINOv2 backbone: every loss finite, the heads trained. Tagged experiment (minutes on the
 * shared 2-core machine): run with {@code -Dexcluded.groups= -Dgroups=experiment}.
 */
@Tag("experiment")
class DistillationRunVfmFamiliesTest {
    @TempDir
    Path dir;

    @org.junit.jupiter.api.Test
    void aCorruptedEmbeddingCacheIsRebuiltOnResumeWithTheSameBits() throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("p.jsonl");
        Files.writeString(prompts, "{\"prompt\": \"a red circle\", \"negative_prompt\": \"blurry\"}\n");
        Path run = dir.resolve("run");
        DistillationRun.Builder b = DistillationRun.builder(teacher).prompts(prompts).folder(run)
                .recipe(Recipe.SENSEFLOW).iterations(1).batchSize(1).seed(3).imageSize(48, 48)
                .loadOptions(DistillationRunTest.OPTIONS).threads(2);
        try (DistillationRun r = b.build()) {
            r.run(CancellationToken.none());
        }
        Path tensors = run.resolve(EmbeddingCache.DIR).resolve(EmbeddingCache.TENSORS);
        byte[] good = Files.readAllBytes(tensors);
        byte[] bad = good.clone();
        bad[bad.length / 2] ^= 0x01;
        Files.write(tensors, bad);
        try (DistillationRun r = DistillationRun.resume(run).imageSize(48, 48).loadOptions(DistillationRunTest.OPTIONS)
                .threads(2).build()) {
            assertThat(r.embeddingCache()).startsWith("rebuilt: ").contains("changed or corrupted");
            assertThat(r.encodedPrompts()).isEqualTo(2);
        }
        assertThat(Files.readAllBytes(tensors)).isEqualTo(good);
    }

    @ParameterizedTest
    @CsvSource({"flux_dev, 16", "sdxl, 4"})
    void oneIterationWithDinoV2AndLatents(String name, int channels) throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/" + name + "/onnx", dir.resolve("teacher"));
        Path latents = dir.resolve("latents.safetensors");
        new SafetensorsWriter().add("latents", GaussianNoise.sample(9, 0, 0, 2, channels, 8, 8)).write(latents);
        Path prompts = dir.resolve("p.jsonl");
        Files.writeString(prompts, "{\"prompt\": \"a red circle\", \"guidance\": 3}\n{\"prompt\": \"a square\"}\n");
        List<IterationMetrics> metrics = new ArrayList<>();
        long t0 = System.nanoTime();
        try (DistillationRun r = DistillationRun.builder(teacher).prompts(prompts).folder(dir.resolve("run"))
                .recipe(Recipe.SENSEFLOW).iterations(1).batchSize(1).seed(3).imageSize(64, 64)
                .loadOptions(DistillationRunTest.OPTIONS).threads(2)
                .backbone(Fixtures.path(DistillationRunDataTest.DINO)).realData(latents).listener(metrics::add)
                .build()) {
            long built = System.nanoTime();
            assertThat(r.realSamples()).isEqualTo(2);
            Map<String, Tensor> heads = r.discriminatorParameters().orElseThrow().snapshot();
            r.run(CancellationToken.none());
            System.out.printf("%s + DINOv2 + latents: build %.1f s, 1 iteration %.1f s%n", name, (built - t0) / 1e9,
                    (System.nanoTime() - built) / 1e9);
            assertThat(r.discriminatorParameters().orElseThrow().snapshot()).isNotEqualTo(heads);
        }
        assertThat(metrics).hasSize(1);
        assertThat(metrics.get(0).losses()).containsKeys("dmd", "gan", "discriminator_real", "discriminator_fake");
        metrics.get(0).losses().forEach((k, v) -> assertThat(v).as(name + " " + k).isFinite());
    }
}
