package io.senseflow.examples.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.Recipe;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.run.DistillationRun;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The front door's plug-in points ({@link DistillationRun.Builder#discriminator}, {@link DistillationRun.Builder#every},
 * {@link DistillationRun.Builder#runFile}, {@link DistillationRun.Builder#trackingProbe}) on a tiny random Shapes
 * teacher in the SDK's layout, with the Shapes runs' own discriminator ({@link ShapesDiscriminator}: heads on the fake
 * score's features behind DiffAugment): the plug-in's heads train, the hook sees the student's current weights at the
 * iterations asked, the extra file lands in the run folder at every checkpoint, the probe's {@code track.} values join
 * {@code losses.csv}, and a resume without the discriminator plug-in is refused.
 */
class FrontDoorPluginPointsTest {
    @TempDir
    Path dir;

    /** Real samples for the GAN's real side (the discriminator trains on batches that have them): 32 x 32 renders. */
    Path images() throws IOException {
        Path d = Files.createDirectories(dir.resolve("images"));
        java.awt.Color[] colours = {java.awt.Color.RED, java.awt.Color.GREEN, java.awt.Color.BLUE};
        for (int i = 0; i < colours.length; i++) {
            java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(32, 32,
                    java.awt.image.BufferedImage.TYPE_INT_RGB);
            java.awt.Graphics2D g = img.createGraphics();
            g.setColor(colours[i]);
            g.fillOval(3 + 4 * i, 5, 14 + 2 * i, 18 - 3 * i);
            g.dispose();
            javax.imageio.ImageIO.write(img, "png", d.resolve("img" + i + ".png").toFile());
        }
        return d;
    }

    @Test
    void shapesDiscriminatorHookRunFileAndProbeThroughTheFrontDoor() throws IOException {
        Path teacher = TinyShapesTeacher.write(dir.resolve("teacher"), 7);
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle\ntwo blue squares\na small green triangle\n");
        Path folder = dir.resolve("run");
        List<Long> hookAt = new ArrayList<>();
        List<Map<String, Tensor>> hookWeights = new ArrayList<>();
        StringBuilder csv = new StringBuilder("iteration,student_max_abs\n");
        ShapesDiscriminator shapes = ShapesDiscriminator.forTeacher(TinyShapesTeacher.transformer(), null);
        Map<String, Tensor> before;
        Map<String, Tensor> student;
        Map<String, Tensor> start;
        try (DistillationRun r = DistillationRun.builder(teacher).prompts(prompts).folder(folder)
                .recipe(Recipe.SENSEFLOW).iterations(5).batchSize(2).seed(3).checkpointEvery(2)
                .loadOptions(SenseFlowLayoutFrontDoorTest.ONE_THREAD).threads(1)
                .realData(images()).discriminator(shapes).trackingProbe(2)
                .every(2, (run, done, m) -> {
                    hookAt.add(done);
                    assertThat(run.iteration()).isEqualTo(done);
                    Map<String, Tensor> w = run.student().snapshot();
                    hookWeights.add(w);
                    double max = w.values().stream().mapToDouble(Tensor::maxAbs).max().orElseThrow();
                    csv.append(done).append(',').append(max).append('\n');
                })
                .runFile("eval.csv", run -> csv.toString().getBytes(StandardCharsets.UTF_8)).build()) {
            before = r.discriminatorParameters().orElseThrow().snapshot();
            start = r.student().snapshot();
            r.run(CancellationToken.none());
            student = r.student().snapshot();
            Map<String, Tensor> after = r.discriminatorParameters().orElseThrow().snapshot();
            assertThat(after.keySet()).isEqualTo(before.keySet()).isNotEmpty();
            assertThat(after.keySet().stream().anyMatch(k -> !java.util.Arrays.equals(after.get(k).toArray(),
                    before.get(k).toArray()))).as("the plug-in's heads train").isTrue();
        }
        assertThat(hookAt).containsExactly(2L, 4L, 5L); // every 2nd and the last
        Map<String, Tensor> last = hookWeights.get(hookWeights.size() - 1);
        student.forEach((k, v) -> assertThat(last.get(k).toArray()).as(k).containsExactly(v.toArray()));
        assertThat(start.keySet().stream().anyMatch(k -> !java.util.Arrays.equals(hookWeights.get(0).get(k).toArray(),
                start.get(k).toArray()))).as("the first hook sees trained weights, not the start's").isTrue();
        List<String> eval = Files.readAllLines(folder.resolve("eval.csv"));
        assertThat(eval).hasSize(4).first().isEqualTo("iteration,student_max_abs");
        assertThat(eval.get(3)).startsWith("5,");
        List<String> losses = Files.readAllLines(folder.resolve(DistillationRun.LOSSES));
        assertThat(losses.stream().filter(l -> l.contains(",track.")).map(l -> l.substring(0, l.indexOf(',')))
                .distinct()).containsExactly("0", "2", "4");
        assertThat(losses.stream().anyMatch(l -> l.startsWith("0,gan,"))).isTrue();
        assertThat(losses.stream().anyMatch(l -> l.contains(",discriminator_real,"))).isTrue();
        assertThat(Files.readString(folder.resolve(DistillationRun.RUN_JSON)))
                .contains("discriminator=" + shapes);

        assertThatThrownBy(() -> DistillationRun.resume(folder).loadOptions(SenseFlowLayoutFrontDoorTest.ONE_THREAD)
                .iterations(6).build()).isInstanceOf(InvalidRequestException.class).hasMessageContaining("plugins");
    }

    @Test
    void runFileAndHookArgumentsAreCheckedAtOnce() {
        DistillationRun.Builder b = DistillationRun.builder(dir.resolve("teacher"));
        for (String bad : List.of(DistillationRun.LOSSES, DistillationRun.RUN_JSON, DistillationRun.CHECKPOINTS,
                "sub/x.csv", ".hidden", "")) {
            assertThatThrownBy(() -> b.runFile(bad, r -> new byte[0])).as(bad)
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("runFile name");
        }
        assertThatThrownBy(() -> b.every(0, (r, n, m) -> { })).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("every");
        assertThatThrownBy(() -> b.trackingProbe(-1)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("trackingProbe");
    }
}
