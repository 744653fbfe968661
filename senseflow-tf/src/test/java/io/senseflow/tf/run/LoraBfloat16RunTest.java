package io.senseflow.tf.run;

import static io.senseflow.tf.run.LoraDistillationRunTest.bits;
import static io.senseflow.tf.run.LoraDistillationRunTest.inputs;
import static io.senseflow.tf.run.LoraDistillationRunTest.maxAbs;
import static io.senseflow.tf.run.LoraDistillationRunTest.maxDiff;
import static io.senseflow.tf.run.LoraDistillationRunTest.out;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.SenseFlowException;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Family;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.lora.LoraConfig;
import io.senseflow.tf.lora.LoraGraph;
import io.senseflow.tf.lora.SharedBase;
import io.senseflow.train.AdamWConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LoRA SenseFlow run over a bfloat16 base ({@link LoraConfig.Builder#bfloat16Base}) through the front door on the
 * shared Optimum SD3 folder: the shared base is held in bfloat16 (every value a bfloat16 number within bfloat16 rounding
 * of the teacher's float32 weight, half the bytes), the memory estimate counts it at 2 bytes per parameter, the run
 * trains its float32 adapters with finite losses, the base is bit-identical after training, the merged export equals
 * the base + adapters form within 1e-5, and {@code run.json} records the precision so that a resume restores it and a
 * float32 resume of the same folder is refused.
 */
class LoraBfloat16RunTest {
    static final int N = 2;

    @TempDir
    Path dir;

    DistillationRun.Builder run(Path teacher, Path folder, LoraConfig lora) throws IOException {
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle on a blue square\n");
        DistillationConfig c = DistillationConfig.preset(Recipe.SENSEFLOW, Family.SD35_MEDIUM).toBuilder()
                .generatorOptimizer(AdamWConfig.constant(2e-2)).fakeScoreOptimizer(AdamWConfig.constant(2e-2))
                .emaDecay(0.5).build();
        return DistillationRun.builder(teacher).prompts(prompts).folder(folder).config(c).iterations(N).batchSize(1)
                .seed(11).checkpointEvery(1).imageSize(64, 64).loadOptions(DistillationRunTest.OPTIONS).threads(2)
                .lora(lora);
    }

    @Test
    void sd3OverBfloat16Base() throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        LoraConfig bf16 = LoraConfig.rank(3).alpha(6).bfloat16Base(true).build();
        assertThat(LoraConfig.fromJson(bf16.toJson())).isEqualTo(bf16);
        assertThat(bf16.toJson()).contains("\"base_precision\":\"bfloat16\"");
        assertThat(LoraConfig.rank(3).alpha(6).build().toJson()).doesNotContain("base_precision");

        Path folder = dir.resolve("run");
        Path exported = dir.resolve("student");
        List<IterationMetrics> metrics = new ArrayList<>();
        LoraGraph lora;
        Map<String, Tensor> emaAdapters;
        try (DistillationRun r = run(teacher, folder, bf16).listener(metrics::add).build()) {
            lora = r.lora();
            SharedBase base = r.modules().sharedBase();
            long floatBytes = 0;
            for (TensorValue t : lora.base().graph().initializers()) {
                if (base.names().contains(t.name())) {
                    floatBytes += t.byteSize();
                }
            }
            // weights of 1,024+ elements are held as bfloat16 variables: half their float32 bytes, give or take the
            // small ones kept in float32
            assertThat(base.bytes()).isLessThan(floatBytes * 6 / 10).isGreaterThanOrEqualTo(floatBytes / 2);
            assertThat(r.memoryEstimate().table().lines().filter(l -> l.contains("frozen base, one copy shared"))
                    .toList()).singleElement().asString().contains("parameters x 2 B");

            Map<String, Tensor> before = base.readAll();
            int roundedWeights = 0;
            for (String w : base.names()) {
                float[] want = lora.base().graph().initializer(w).orElseThrow().toFloats();
                float[] held = before.get(w).toArray();
                if (want.length < 1024) {
                    continue;
                }
                roundedWeights++;
                for (int i = 0; i < want.length; i++) {
                    assertThat(Float.floatToRawIntBits(held[i]) & 0xFFFF).as(w + " low mantissa bits").isZero();
                    assertThat((double) Math.abs(held[i] - want[i])).as(w + "[" + i + "]")
                            .isLessThanOrEqualTo(Math.abs(want[i]) * 0x1p-8 + 1e-30);
                }
            }
            assertThat(roundedWeights).isPositive();

            r.run(CancellationToken.none());
            assertThat(metrics).hasSize(N);
            metrics.forEach(x -> x.losses().forEach((k, v) -> assertThat(v).as(k).isFinite()));
            Map<String, Tensor> trained = r.student().snapshot();
            long moved = lora.targets().stream().filter(t -> maxAbs(trained.get(t.up()).toArray()) > 0).count();
            assertThat(moved).as("up projections that moved off zero").isGreaterThan(lora.targets().size() / 2);
            Map<String, Tensor> after = base.readAll();
            for (String w : base.names()) {
                assertThat(bits(after.get(w).toArray())).as("base " + w).isEqualTo(bits(before.get(w).toArray()));
            }
            emaAdapters = r.modules().ema().parameters().snapshot();
            r.exportStudent(exported);
        }
        assertThat(Files.readString(folder.resolve(DistillationRun.RUN_JSON))).contains("base_precision");

        // the merged export (the float32 base + the trained adapters) is the adapter form, within 1e-5
        OnnxModel merged = OnnxModel.read(exported.resolve("transformer").resolve("model.onnx"));
        Map<String, TensorValue> inputs = inputs(lora.base(), "sd3");
        float[] mergedOut = out(merged, inputs);
        float[] adapterOut = out(lora.withAdapters(emaAdapters), inputs);
        assertThat(maxDiff(mergedOut, adapterOut)).isLessThanOrEqualTo(1e-5);
        assertThat(maxDiff(adapterOut, out(lora.base(), inputs))).as("trained").isGreaterThan(1e-3);

        // resume restores the recorded precision; a float32 LoRA config on the same folder is refused
        try (DistillationRun r = run(teacher, folder, null).resume(true).build()) {
            assertThat(r.lora().config().bfloat16Base()).isTrue();
        }
        assertThatThrownBy(() -> run(teacher, folder, LoraConfig.rank(3).alpha(6).build())
                .resume(true).build()).isInstanceOf(SenseFlowException.class).hasMessageContaining("lora");
    }
}
