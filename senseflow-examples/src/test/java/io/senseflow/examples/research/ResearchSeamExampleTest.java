package io.senseflow.examples.research;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.json.Json;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.run.DistillationRun;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The researcher's seam on a real folder: the shared Optimum SD3 fixture teacher (copied), distilled by a
 * {@link DistillationRun} with the example's ODE regression and Kumaraswamy fake-score levels plugged in. The custom
 * term's loss is in {@code losses.csv}, the sampler's draws are the fake score's levels (recorded, and absent from a run
 * without the plug-in, whose student differs), {@code run.json} names the plug-ins, and a resume without them is
 * refused.
 */
class ResearchSeamExampleTest {
    static final int N = 3;
    static final LoadOptions OPTIONS = LoadOptions.builder().sessionConfig(SessionConfig.builder()
            .intraOpThreads(1).interOpThreads(1).build()).t5SequenceLength(24).build();

    @TempDir
    Path dir;

    /** Records every level it draws (the fake score's, here). */
    static final class Recording implements TimestepSampler {
        final TimestepSampler inner;
        final List<Double> draws = new ArrayList<>();

        Recording(TimestepSampler inner) {
            this.inner = inner;
        }

        @Override
        public double sample(RandomStream rng) {
            double s = inner.sample(rng);
            draws.add(s);
            return s;
        }
    }

    DistillationRun.Builder run(Path teacher, Path prompts, Path folder) {
        return DistillationRun.builder(teacher).prompts(prompts).folder(folder).recipe(Recipe.SENSEFLOW).iterations(N)
                .batchSize(1).seed(5).checkpointEvery(N).imageSize(64, 64).loadOptions(OPTIONS).threads(2);
    }

    @Test
    void aCustomObjectiveAndSamplerActInARunFromAnOptimumFolder() throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle on a blue square\nthree small yellow triangles\n");
        Recording levels = new Recording(ResearchSeamExample.FAKE_SCORE_LEVELS);
        List<IterationMetrics> metrics = new ArrayList<>();
        Path runA = dir.resolve("run-a");
        Map<String, Tensor> withPlugins;
        try (DistillationRun r = ResearchSeamExample.plugIn(run(teacher, prompts, runA), levels)
                .listener(metrics::add).build()) {
            r.run(CancellationToken.none());
            withPlugins = r.student().snapshot();
        }
        // the term ran in the generator update (iteration 0; the SD3.5 preset's TTUR is 10) next to the recipe's
        assertThat(metrics.get(0).losses()).containsKeys("dmd", "isg", "gan", TeacherOdeRegression.NAME);
        assertThat(metrics.get(0).outputGradientNorms().get(TeacherOdeRegression.NAME)).isPositive();
        List<String> csv = Files.readAllLines(runA.resolve(DistillationRun.LOSSES));
        List<String> odeRows = csv.stream().filter(l -> l.contains("," + TeacherOdeRegression.NAME + ",")).toList();
        assertThat(odeRows).hasSize(1);
        assertThat(Double.parseDouble(odeRows.get(0).split(",")[2])).isFinite().isPositive();
        // the sampler drew every fake-score level: one per sample per iteration, inside its clamp
        assertThat(levels.draws).hasSize(N).allMatch(s -> s >= 0.01 && s <= 0.99);
        String runJson = Files.readString(runA.resolve(DistillationRun.RUN_JSON));
        assertThat(Json.parseObject(runJson).getString("plugins")).contains("ode_regression")
                .contains("fake_score_timesteps=" + Recording.class.getName());

        // the same run without the plug-ins trains another student, and draws nothing from the sampler
        Recording unused = new Recording(ResearchSeamExample.FAKE_SCORE_LEVELS);
        try (DistillationRun r = run(teacher, prompts, dir.resolve("run-b")).build()) {
            r.run(CancellationToken.none());
            Map<String, Tensor> plain = r.student().snapshot();
            assertThat(plain.keySet()).isEqualTo(withPlugins.keySet());
            assertThat(plain.keySet().stream().filter(k -> !plain.get(k).equals(withPlugins.get(k))).count())
                    .isPositive();
        }
        assertThat(unused.draws).isEmpty();
        assertThat(Files.readString(dir.resolve("run-b").resolve(DistillationRun.LOSSES)))
                .doesNotContain(TeacherOdeRegression.NAME);

        // plug-ins are code, not config: a resume without them is refused, naming run.json's field
        assertThatThrownBy(() -> run(teacher, prompts, runA).iterations(N + 1).resume(true).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("plugins")
                .hasMessageContaining("run.json");
    }
}
