package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.examples.distill.ShapesPresets;
import io.senseflow.examples.distill.TinyShapesTeacher;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.json.Json;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code senseflow distill --backbone} on a Shapes teacher whose autoencoder has a latent shift (as the bundled
 * teacher's has): a {@code vfm} config runs the front door's VFM discriminator on the shared DINOv2 export behind the
 * teacher's VAE decoder, its heads train on the Shapes batches' real images, and the run ends with a student; a backbone
 * with another discriminator, and {@code vfm} without one, are refused before any work.
 */
class ShapesVfmRunTest {
    @TempDir
    Path dir;

    @Test
    void aVfmConfigTrainsTheFrontDoorsVisionDiscriminatorOnTheShapesData() throws Exception {
        Path teacher = TinyShapesTeacher.write(dir.resolve("teacher"), 3, -0.04);
        DistillationConfig base = ShapesPresets.named("senseflow");
        Path vfm = dir.resolve("vfm.json");
        Files.writeString(vfm, base.toBuilder().gan(new DistillationConfig.Gan(true, base.gan().weighting(), DiscriminatorKind.VFM)).build()
                .toJson());
        Path backbone = Fixtures.path("vision-backbones/dinov2_small_random.onnx");
        Path out = dir.resolve("run");
        List<String> common = List.of("distill", "--teacher", teacher.toString(), "--iterations", "2", "--batch", "2",
                "--checkpoint-every", "1", "--threads", "1", "--classifier", "none", "--quiet");

        DistillCommandTest.Run r = DistillCommandTest.run(concat(common, "--config", vfm.toString(), "--backbone",
                backbone.toString(), "--out", out.toString()));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Json.parseObject(Files.readString(out.resolve("run.json"))).getString("backbone_fingerprint", ""))
                .isNotEmpty();
        List<String> rows = Files.readAllLines(out.resolve("losses.csv"));
        int real = List.of(rows.get(0).split(",")).indexOf("discriminator_real");
        assertThat(rows).hasSize(3);
        for (String row : rows.subList(1, 3)) {
            assertThat(Double.parseDouble(row.split(",", -1)[real])).as(row).isFinite().isPositive();
        }
        try (SafetensorsFile one = SafetensorsFile.open(out.resolve("checkpoints/checkpoint-000000001/discriminator"
                + ".safetensors"));
             SafetensorsFile two = SafetensorsFile.open(out.resolve("checkpoints/checkpoint-000000002/discriminator"
                     + ".safetensors"))) {
            assertThat(one.names()).isNotEmpty().isEqualTo(two.names());
            double moved = 0;
            for (String n : one.names()) {
                Tensor a = one.tensor(n);
                moved = Math.max(moved, a.sub(two.tensor(n)).maxAbs());
            }
            assertThat(moved).as("the heads trained in iteration 1").isGreaterThan(0);
        }
        assertThat(out.resolve("student/model_index.json")).isRegularFile();

        DistillCommandTest.Run extra = DistillCommandTest.run(concat(common, "--backbone", backbone.toString(),
                "--out", dir.resolve("ffs").toString()));
        assertThat(extra.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(extra.err()).contains("--backbone").contains("fake-score-features");
        DistillCommandTest.Run missing = DistillCommandTest.run(concat(common, "--config", vfm.toString(), "--out",
                dir.resolve("none").toString()));
        assertThat(missing.code()).isEqualTo(SenseFlowCli.EXIT_INVALID);
        assertThat(missing.err()).contains("gan.discriminator").contains("vfm without a backbone");
        for (String refused : List.of("ffs", "none")) {
            Path f = dir.resolve(refused);
            assertThat(!Files.exists(f) || io.senseflow.io.FileTrees.isEmptyDirectory(f)).as(refused + " is empty")
                    .isTrue();
        }
    }

    private static String[] concat(List<String> a, String... b) {
        List<String> all = new java.util.ArrayList<>(a);
        all.addAll(List.of(b));
        return all.toArray(new String[0]);
    }
}
