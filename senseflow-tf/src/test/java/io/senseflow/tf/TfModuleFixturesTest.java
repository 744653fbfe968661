package io.senseflow.tf;

import io.senseflow.fixtures.Fixtures;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.testing.Compare;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.tf.testing.OrtOracle;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.Upstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Modules over the PyTorch exports: per-shape specialisation, untied parameters' own gradients, frozen backbones. */
class TfModuleFixturesTest {
    static final Path DIR = Fixtures.path("torch-exports");

    @BeforeAll
    static void fixturesPresent() {
    }

    static Tensor floats(long[] ids, int... shape) {
        float[] f = new float[ids.length];
        for (int i = 0; i < ids.length; i++) {
            f[i] = ids[i];
        }
        return Tensor.wrap(f, shape);
    }

    static TfModule bert(boolean specialise, String trainable) {
        return TfModule.builder(OnnxModel.read(DIR.resolve("bert_tiny.onnx"))).name("bert")
                .input(InputBinding.of(ModuleInputs.X, "input_ids").withGradient(false))
                .input(InputBinding.of(ModuleInputs.MASK, "attention_mask").withGradient(false))
                .output("pooler_output").specialisePerShape(specialise)
                .importOptions(ImportOptions.builder().inputShape("input_ids", 2, 12).inputShape("attention_mask", 2, 12)
                        .trainablePattern(trainable).build())
                .optimizer(AdamWConfig.constant(1e-3)).build();
    }

    @Test
    void bertModuleReproducesPyTorchAndSpecialisesToNewShapesOverTheSameVariables() {
        long[] ids;
        long[] mask;
        float[] pooled;
        try (SafetensorsFile f = SafetensorsFile.open(DIR.resolve("bert_tiny.reference.safetensors"))) {
            ids = f.longs("input.input_ids");
            mask = f.longs("input.attention_mask");
            pooled = f.floats("output.pooler_output");
        }
        try (TfModule m = bert(true, ".")) {
            ModuleInputs in = new ModuleInputs(Map.of(ModuleInputs.X, floats(ids, 2, 12), ModuleInputs.MASK,
                    floats(mask, 2, 12)));
            assertThat(MlpGraph.maxDiff(m.forward(in), Tensor.wrap(pooled, 2, 32))).isLessThan(1e-4);
            // another batch and length: a second import, same variables
            RandomStream r = new RandomStream(3, 0, 0);
            long[] ids2 = new long[3 * 7];
            long[] mask2 = new long[3 * 7];
            for (int i = 0; i < ids2.length; i++) {
                ids2[i] = (long) (r.nextUniform() * 500);
                mask2[i] = i % 7 < 5 || i < 7 ? 1 : 0;
            }
            ModuleInputs in2 = new ModuleInputs(Map.of(ModuleInputs.X, floats(ids2, 3, 7), ModuleInputs.MASK,
                    floats(mask2, 3, 7)));
            Tensor got = m.forward(in2);
            assertThat(m.variantCount()).isEqualTo(2);
            OnnxModel model = OnnxModel.read(DIR.resolve("bert_tiny.onnx"));
            TensorValue want = OrtOracle.run(model, Map.of("input_ids", TensorValue.ofLongs("input_ids", ids2, 3, 7),
                    "attention_mask", TensorValue.ofLongs("attention_mask", mask2, 3, 7))).get("pooler_output");
            Compare.assertClose("bert [3, 7]", want, io.senseflow.onnx.ir.TensorValue.of("p", got), 1e-5, 1e-5);
            // a parameter written once is seen by both variants
            m.parameters().write("model.pooler.dense.bias", Tensor.full(0.5f, 32));
            assertThat(MlpGraph.maxDiff(m.forward(in), Tensor.wrap(pooled, 2, 32))).isGreaterThan(1e-2);
            m.forward(in2);
            assertThat(m.variantCount()).isEqualTo(2);
        }
    }

    @Test
    void anUntiedParameterGetsItsOwnGradient() {
        long[] ids;
        long[] mask;
        try (SafetensorsFile f = SafetensorsFile.open(DIR.resolve("bert_tiny.reference.safetensors"))) {
            ids = f.longs("input.input_ids");
            mask = f.longs("input.attention_mask");
        }
        try (TfModule m = bert(false, ".")) {
            ModuleInputs in = new ModuleInputs(Map.of(ModuleInputs.X, floats(ids, 2, 12), ModuleInputs.MASK,
                    floats(mask, 2, 12)));
            RandomStream r = new RandomStream(5, 0, 0);
            float[] dy = new float[2 * 32];
            for (int i = 0; i < dy.length; i++) {
                dy[i] = (float) r.nextUniform(-1, 1);
            }
            m.optimizer().zeroGradients();
            BackwardResult res = m.backward(in, Upstream.explicit(Tensor.wrap(dy, 2, 32)), GradientMode.PARAMETERS);
            // pooler = tanh(W h + b): dL/db = sum_b dy (1 - pooler^2)
            float[] y = res.output().toArray();
            float[] want = new float[32];
            for (int b = 0; b < 2; b++) {
                for (int j = 0; j < 32; j++) {
                    want[j] += dy[b * 32 + j] * (1 - y[b * 32 + j] * y[b * 32 + j]);
                }
            }
            Tensor got = m.optimizer().gradient("model.pooler.dense.bias");
            assertThat(MlpGraph.maxDiff(got, Tensor.wrap(want, 32))).isLessThan(1e-5);
            // the initializer it was an Identity of is a separate parameter with its own (different) gradient
            Tensor lnBias = m.optimizer().gradient("model.embeddings.LayerNorm.bias");
            assertThat(MlpGraph.maxDiff(lnBias, got)).isGreaterThan(1e-4);
            m.optimizer().step();
            assertThat(m.parameters().read("model.pooler.dense.bias").toArray())
                    .isNotEqualTo(m.parameters().read("model.encoder.layer.1.output.dense.bias").toArray());
            assertThatThrownBy(() -> m.forward(new ModuleInputs(Map.of(ModuleInputs.X, Tensor.zeros(3, 12),
                    ModuleInputs.MASK, Tensor.zeros(3, 12))))).isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("specialisePerShape");
        }
    }

    @Test
    void aFrozenBackboneWithATrainableHeadUpdatesOnlyTheHead() {
        float[] pixels;
        try (SafetensorsFile f = SafetensorsFile.open(DIR.resolve("vit_tiny.reference.safetensors"))) {
            pixels = f.floats("input.pixel_values");
        }
        try (TfModule d = TfModule.builder(OnnxModel.read(DIR.resolve("vit_tiny.onnx"))).name("disc")
                .input(InputBinding.of(ModuleInputs.X, "pixel_values")).output("pooler_output")
                .importOptions(ImportOptions.builder().inputShape("pixel_values", 2, 3, 32, 32)
                        .trainablePattern("^model\\.pooler\\.").build())
                .optimizer(AdamWConfig.constant(1e-2)).build()) {
            assertThat(d.parameters().specs()).extracting(ParameterSpec::name)
                    .containsExactlyInAnyOrder("model.pooler.dense.weight", "model.pooler.dense.bias");
            ModuleInputs in = ModuleInputs.of(Tensor.wrap(pixels, 2, 3, 32, 32), null);
            d.optimizer().zeroGradients();
            BackwardResult r = d.backward(in, Upstream.hinge(1, new float[] {1f, 0.5f}), GradientMode.BOTH);
            assertThat(r.inputGradient(ModuleInputs.X).shape()).containsExactly(2, 3, 32, 32);
            assertThat(r.loss()).isPositive();
            assertThat(d.optimizer().gradientNorm()).isPositive();
            Tensor before = d.forward(in);
            d.optimizer().step();
            assertThat(MlpGraph.maxDiff(d.forward(in), before)).isGreaterThan(1e-4);
        }
    }
}
