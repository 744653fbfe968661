package io.senseflow.tf.run;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.model.Conditioning;
import io.senseflow.model.ImageEncoder;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.runtime.OrtFluxGenerator;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.tensor.Tensor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The run's optional inputs one by one, without training: per-prompt guidance in JSONL, the prompt-embedding cache
 * (bits kept, a changed or corrupted cache rejected with its reason), real data (latents files and PNG folders, and
 * each bad form), and backbones that are not vision models, refused by {@code build()} before the teacher is loaded
 * and before anything is written.
 */
class DistillationRunInputsTest {
    @TempDir
    Path dir;

    @Test
    void jsonlGuidanceIsReadPerPromptAndBadValuesAreRefusedNamingTheLine() throws IOException {
        Path p = dir.resolve("p.jsonl");
        Files.writeString(p, "{\"prompt\": \"a\", \"guidance\": 4.5}\n{\"prompt\": \"b\"}\n{\"prompt\": \"c\","
                + " \"guidance\": 2}\n");
        PromptFile f = PromptFile.read(p);
        assertThat(f.hasGuidance()).isTrue();
        assertThat(f.guidance().get(0)).isEqualTo(4.5);
        assertThat(f.guidance().get(1)).isNaN();
        assertThat(f.guidance().get(2)).isEqualTo(2.0);
        assertThat(PromptFile.read(writeTxt("a\nb\n")).hasGuidance()).isFalse();
        for (String bad : new String[] {"\"high\"", "-1", "null"}) {
            Files.writeString(p, "{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"guidance\": " + bad + "}\n");
            if (bad.equals("null")) { // JSON null is "not given"
                assertThat(PromptFile.read(p).guidance().get(1)).isNaN();
                continue;
            }
            assertThatThrownBy(() -> PromptFile.read(p)).isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining(p + " line 2 guidance").hasMessageContaining("number >= 0");
        }
    }

    Path writeTxt(String text) throws IOException {
        Path p = dir.resolve("p.txt");
        Files.writeString(p, text);
        return p;
    }

    @Test
    void theEmbeddingCacheKeepsTheBitsAndRejectsAChangedCorruptedOrForeignCache() throws IOException {
        Path run = Files.createDirectories(dir.resolve("run"));
        Conditioning a = new Conditioning(GaussianNoise.sample(1, 0, 1, 1, 7, 5), GaussianNoise.sample(1, 0, 2, 1, 3),
                null, Map.of("time_ids", Tensor.of(new float[] {64, 64, 0, 0, 64, 64}, 1, 6)));
        Conditioning b = new Conditioning(GaussianNoise.sample(2, 0, 1, 1, 7, 5), GaussianNoise.sample(2, 0, 2, 1, 3),
                null, Map.of("time_ids", Tensor.of(new float[] {64, 64, 0, 0, 64, 64}, 1, 6)));
        EmbeddingCache.Key key = new EmbeddingCache.Key("abc", "teacher-1", "24");
        EmbeddingCache.write(run, key, new EmbeddingCache.Embeddings(List.of(a, b), List.of(""), List.of(b)));

        EmbeddingCache.Lookup hit = EmbeddingCache.read(run, key, 2);
        assertThat(hit.rejected()).isNull();
        assertThat(hit.embeddings().prompts().get(0).tokens().toArray()).containsExactly(a.tokens().toArray());
        assertThat(hit.embeddings().prompts().get(1).pooled().toArray()).containsExactly(b.pooled().toArray());
        assertThat(hit.embeddings().prompts().get(0).extras().get("time_ids").toArray())
                .containsExactly(a.extras().get("time_ids").toArray());
        assertThat(hit.embeddings().negatives()).containsExactly("");

        assertThat(EmbeddingCache.read(run, new EmbeddingCache.Key("abd", "teacher-1", "24"), 2).rejected())
                .contains("prompts_sha256 is abc, this run's is abd");
        assertThat(EmbeddingCache.read(run, new EmbeddingCache.Key("abc", "teacher-2", "24"), 2).rejected())
                .contains("teacher_fingerprint");
        assertThat(EmbeddingCache.read(run, key, 3).rejected()).contains("prompt_count is 2");
        Path tensors = run.resolve(EmbeddingCache.DIR).resolve(EmbeddingCache.TENSORS);
        byte[] bytes = Files.readAllBytes(tensors);
        bytes[bytes.length - 3] ^= 0x40; // one bit of the last tensor's data
        Files.write(tensors, bytes);
        assertThat(EmbeddingCache.read(run, key, 2).rejected()).contains(tensors.toString())
                .contains("changed or corrupted");
        Files.writeString(EmbeddingCache.manifest(run), "{not json");
        assertThat(EmbeddingCache.read(run, key, 2).rejected()).contains("not a readable manifest");
        assertThat(EmbeddingCache.read(dir.resolve("elsewhere"), key, 2).rejected()).isEqualTo("none");
    }

    @Test
    void latentsFilesAndImageFoldersAreReadAndEachBadFormIsRefusedNamingTheFile() throws IOException {
        Tensor z = GaussianNoise.sample(4, 0, 0, 3, 4, 6, 10);
        Path good = dir.resolve("latents.safetensors");
        new SafetensorsWriter().add("latents", z).write(good);
        RealData r = RealData.read(good, Optional.empty(), dir, 4, 6, 10, 80, 48, false);
        assertThat(r.count()).isEqualTo(3);
        assertThat(r.samples().toArray()).containsExactly(z.toArray());
        assertThat(r.batch(1, 2).toArray()).containsExactly(Tensor.concatBatch(z.sliceBatch(2, 3), z.sliceBatch(0, 1))
                .toArray()); // samples (1*2 + 0) mod 3 = 2 and (1*2 + 1) mod 3 = 0
        RealData packed = RealData.read(good, Optional.empty(), dir, 4, 6, 10, 80, 48, true);
        assertThat(packed.samples().toArray()).containsExactly(OrtFluxGenerator.pack(z).toArray());

        Path wrongChannels = dir.resolve("c.safetensors");
        new SafetensorsWriter().add("latents", GaussianNoise.sample(4, 0, 0, 3, 16, 6, 10)).write(wrongChannels);
        assertThatThrownBy(() -> RealData.read(wrongChannels, Optional.empty(), dir, 4, 6, 10, 80, 48, false))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining(wrongChannels + " shape")
                .hasMessageContaining("[N, 4, 6, 10]").hasMessageContaining("[3, 16, 6, 10]");
        Path twoTensors = dir.resolve("t.safetensors");
        new SafetensorsWriter().add("a", z).add("b", z).write(twoTensors);
        assertThatThrownBy(() -> RealData.read(twoTensors, Optional.empty(), dir, 4, 6, 10, 80, 48, false))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("'latents'");
        Path notSafetensors = dir.resolve("x.safetensors");
        Files.writeString(notSafetensors, "hello");
        assertThatThrownBy(() -> RealData.read(notSafetensors, Optional.empty(), dir, 4, 6, 10, 80, 48, false))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining(notSafetensors.toString());

        // images: encoded with the given encoder (here a fixed linear map standing in for a VAE encoder)
        Path images = Files.createDirectories(dir.resolve("images"));
        ImageEncoder halve = px -> {
            float[] v = px.toArray();
            float[] out = new float[4 * 6 * 10];
            for (int i = 0; i < out.length; i++) {
                out[i] = v[i * 3] / 2;
            }
            return Tensor.wrap(out, 1, 4, 6, 10);
        };
        ImageIO.write(new BufferedImage(80, 48, BufferedImage.TYPE_INT_RGB), "png", images.resolve("a.png").toFile());
        RealData fromImages = RealData.read(images, Optional.of(halve), dir, 4, 6, 10, 80, 48, false);
        assertThat(fromImages.count()).isEqualTo(1);
        assertThat(fromImages.samples().get(0)).isEqualTo(-0.5f); // black: -1 in [-1, 1], halved
        assertThatThrownBy(() -> RealData.read(images, Optional.empty(), dir, 4, 6, 10, 80, 48, false))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("no vae_encoder/ in " + dir);
        ImageIO.write(new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB), "png", images.resolve("b.png").toFile());
        assertThatThrownBy(() -> RealData.read(images, Optional.of(halve), dir, 4, 6, 10, 80, 48, false))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining(images.resolve("b.png").toString())
                .hasMessageContaining("80 x 48").hasMessageContaining("64 x 64");
        Files.writeString(images.resolve("b.png"), "not a png");
        assertThatThrownBy(() -> RealData.read(images, Optional.of(halve), dir, 4, 6, 10, 80, 48, false))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining(images.resolve("b.png").toString())
                .hasMessageContaining("readable PNG");
        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertThatThrownBy(() -> RealData.read(empty, Optional.of(halve), dir, 4, 6, 10, 80, 48, false))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("no .png files");
    }

    @Test
    void aBackboneThatIsNotAVisionModelIsRefusedBeforeTheTeacherLoads() throws IOException {
        Path prompts = writeTxt("a red circle\n");
        Path sd3 = Fixtures.path("optimum-exports/sd3/onnx");
        Path run = dir.resolve("run");
        Path textEncoder = sd3.resolve("text_encoder/model.onnx");
        Path transformer = sd3.resolve("transformer/model.onnx");
        assertThatThrownBy(() -> DistillationRun.builder(sd3).prompts(prompts).folder(run).recipe(Recipe.SENSEFLOW)
                .backbone(textEncoder).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("backbone " + textEncoder).hasMessageContaining("vision backbone")
                .hasMessageContaining("input_ids");
        assertThatThrownBy(() -> DistillationRun.builder(sd3).prompts(prompts).folder(run).recipe(Recipe.SENSEFLOW)
                .backbone(transformer).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("backbone " + transformer).hasMessageContaining("[B, 3, H, W]")
                .hasMessageContaining("hidden_states");
        assertThatThrownBy(() -> DistillationRun.builder(sd3).prompts(prompts).folder(run).recipe(Recipe.SENSEFLOW)
                .backbone(prompts).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("backbone " + prompts).hasMessageContaining("not an ONNX model");
        assertThatThrownBy(() -> DistillationRun.builder(sd3).prompts(prompts).folder(run).recipe(Recipe.SENSEFLOW)
                .realData(dir.resolve("missing")).build()).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("data " + dir.resolve("missing"));
        assertThat(run).doesNotExist();
        // the shared DINOv2 export passes the check, with taps after each of its 3 blocks
        assertThat(VisionDiscriminator.readBackbone(Fixtures.path(DistillationRunDataTest.DINO))).isNotNull();
        assertThat(VisionDiscriminator.blockTaps(3)).containsExactly(0, 1, 2);
        assertThat(VisionDiscriminator.blockTaps(24)).containsExactly(2, 5, 8, 10, 14, 19, 23);
        assertThat(VisionDiscriminator.blockTaps(12)).containsExactly(1, 2, 4, 5, 7, 9, 11);
    }
}
