package io.senseflow.tf.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Family;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.tf.lora.LoraConfig;
import io.senseflow.train.AdamWConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The two export forms of a LoRA run load to the same sampler (docs/distillation.md, "LoRA"): a two-iteration LoRA
 * SenseFlow run on the shared sd3 Optimum folder, then {@code Models.load(teacher)} with the run's
 * {@code exportAdapters} file ({@link LoadOptions.Builder#adapters}) generates what {@code Models.load} of its
 * merged {@code exportStudent} folder generates (same seed, latents within 1e-5, same pixels), and something else
 * than the teacher alone.
 */
class LoraAdapterLoadTest {
    @TempDir
    Path dir;

    @Test
    void teacherPlusAdaptersSamplesAsTheMergedExport() throws IOException {
        long start = System.nanoTime();
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle on a blue square\n");
        // a learning rate far above the released one, so two steps move the adapters well past the tolerance
        DistillationConfig c = DistillationConfig.preset(Recipe.SENSEFLOW, Family.SD35_MEDIUM).toBuilder()
                .generatorOptimizer(AdamWConfig.constant(2e-2)).fakeScoreOptimizer(AdamWConfig.constant(2e-2))
                .emaDecay(0.5).build();
        Path student = dir.resolve("student");
        Path adapters = dir.resolve("adapters.safetensors");
        try (DistillationRun r = DistillationRun.builder(teacher).prompts(prompts).folder(dir.resolve("run")).config(c)
                .iterations(2).batchSize(1).seed(11).imageSize(64, 64).loadOptions(DistillationRunTest.OPTIONS)
                .threads(2).lora(LoraConfig.rank(3).alpha(6).build()).build()) {
            r.run(CancellationToken.none());
            r.exportStudent(student);
            r.exportAdapters(adapters);
        }
        double trained = (System.nanoTime() - start) / 1e9;

        GenerationRequest req = GenerationRequest.builder().prompt("a red circle on a blue square").width(64)
                .height(64).seed(3).build();
        GenerationResult merged;
        GenerationResult withAdapters;
        GenerationResult teacherAlone;
        try (LoadedModel m = Models.load(student, DistillationRunTest.OPTIONS)) {
            assertThat(m.senseflowCheckpoint()).isTrue();
            merged = m.pipeline().generate(req);
        }
        LoadOptions asStudent = DistillationRunTest.OPTIONS.toBuilder().senseflowCheckpoint(true).build();
        try (LoadedModel m = Models.load(teacher, asStudent.toBuilder().adapters(adapters).build())) {
            withAdapters = m.pipeline().generate(req);
        }
        try (LoadedModel m = Models.load(teacher, asStudent)) {
            teacherAlone = m.pipeline().generate(req);
        }
        double agree = LoraDistillationRunTest.maxDiff(withAdapters.latents().toArray(), merged.latents().toArray());
        double moved = LoraDistillationRunTest.maxDiff(withAdapters.latents().toArray(), teacherAlone.latents().toArray());
        System.out.printf("sd3 LoRA: teacher + adapters vs merged export, latents max |diff| %.2e; vs teacher alone"
                + " %.2e; run %.1f s, whole case %.1f s%n", agree, moved, trained, (System.nanoTime() - start) / 1e9);
        assertThat(withAdapters.latents().shape()).isEqualTo(merged.latents().shape());
        assertThat(agree).isLessThanOrEqualTo(1e-5);
        assertThat(withAdapters.images().get(0).rgb()).isEqualTo(merged.images().get(0).rgb());
        assertThat(moved).as("the adapters change what the teacher samples").isGreaterThan(1e-3);
    }
}
