package io.senseflow.tf.discriminator;

import io.senseflow.fixtures.Fixtures;
import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.testing.OrtOracle;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.Upstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The VFM discriminator on a {@code GraphBuilder} ViT and on PyTorch's exported ViT: taps, shapes, gradient lists. */
class VfmDiscriminatorTest {
    static final Path VIT = Fixtures.path("torch-exports/vit_tiny.onnx");

    static Tensor images(long seed, int... shape) {
        Tensor g = GaussianNoise.sample(seed, 0, 7, shape);
        return g.map(v -> (float) Math.tanh(v));
    }

    @Test
    void tinyVitTapsResolveAndEveryShapeIsRight() {
        OnnxModel vit = TinyVit.build(16, 4, 16, 3, 2, 2, 1);
        Backbone backbone = Backbone.builder(vit).taps(List.of(Tap.patchEmbedding(), Tap.afterBlock(0),
                Tap.afterBlock(2))).preprocessing(Preprocessing.imagenet().withSize(16, 16)).build();
        try (Discriminator d = Discriminator.vfm(backbone).inputShape(2, 3, 24, 24).seed(3)
                .heads(HeadSpec.defaults().withWidth(8)).optimizer(AdamWConfig.constant(1e-3)).build()) {
            assertThat(d.tapValues()).hasSize(3);
            ModuleInputs in = ModuleInputs.of(images(1, 2, 3, 24, 24), null);
            Map<String, Tensor> f = d.features(in);
            List<Tensor> grids = new ArrayList<>(f.values());
            assertThat(grids.get(0).shape()).containsExactly(2, 4, 4, 16); // conv grid
            assertThat(grids.get(1).shape()).containsExactly(2, 4, 4, 16); // 1 CLS + 2 registers dropped
            assertThat(grids.get(2).shape()).containsExactly(2, 4, 4, 16);
            assertThat(d.logitGrids()).allSatisfy(g -> assertThat(g).containsExactly(2, 2));
            Tensor y = d.forward(in);
            assertThat(y.shape()).containsExactly(2, 12);
            assertThat(y.isFinite()).isTrue();
            // only the heads are parameters: 3 heads x (2 convs + out) x (weight, bias)
            assertThat(d.parameters().specs()).hasSize(18).allSatisfy(p -> assertThat(p.name()).startsWith("heads."));
            assertThat(d.parameters().specs()).extracting(ParameterSpec::name).contains("heads.0.convs.0.weight",
                    "heads.2.out.bias");
            assertThat(d.parameters().specs().stream().filter(p -> p.name().equals("heads.0.convs.0.weight"))
                    .findFirst().orElseThrow().shape()).containsExactly(8, 16, 3, 3);
            // another batch size: a second variant over the same heads
            Tensor y3 = d.forward(ModuleInputs.of(images(1, 3, 3, 24, 24), null));
            assertThat(y3.shape()).containsExactly(3, 12);
            assertThat(d.variantCount()).isEqualTo(2);
            BackwardResult r = d.backward(in, Upstream.hinge(1, null), GradientMode.BOTH);
            assertThat(r.inputGradient(ModuleInputs.X).shape()).containsExactly(2, 3, 24, 24);
            assertThat(r.inputGradient(ModuleInputs.X).maxAbs()).isGreaterThan(0f);
            assertThat(d.optimizer().gradientNorm()).isGreaterThan(0);
        }
    }

    @Test
    void pyTorchVitTapsEqualWhatOnnxRuntimeComputesForTheSameValues() {
        OnnxModel vit = OnnxModel.read(VIT);
        Backbone backbone = Backbone.builder(vit).taps(List.of(Tap.afterBlock(0), Tap.afterBlock(2),
                Tap.patchEmbedding(), Tap.named("/model/layers.1/Add"))).clsToken(Backbone.ClsToken.CONCAT)
                .preprocessing(Preprocessing.identity(3).withRange(-1, 1)).build();
        try (Discriminator d = Discriminator.vfm(backbone).inputShape(2, 3, 32, 32).seed(4)
                .heads(HeadSpec.defaults().withWidth(8).withLayers(2, 2)).optimizer(AdamWConfig.constant(1e-3))
                .build()) {
            Tensor x = images(2, 2, 3, 32, 32);
            Map<String, Tensor> f = d.features(ModuleInputs.of(x, null));
            List<String> taps = d.tapValues();
            assertThat(taps.get(0)).isEqualTo("/model/layers.0/Add_1_output_0");
            assertThat(taps.get(3)).isEqualTo("/model/layers.1/Add_output_0");
            // ONNX Runtime on the same graph with the taps as extra outputs; the input mapped [-1, 1] -> [0, 1]
            List<ValueInfo> outs = new ArrayList<>(vit.graph().outputs());
            for (String t : taps) {
                outs.add(ValueInfo.unknownShape(t, DataType.FLOAT));
            }
            OnnxModel tapped = vit.withGraph(vit.graph().withOutputs(outs));
            float[] x01 = x.toArray();
            for (int i = 0; i < x01.length; i++) {
                x01[i] = (x01[i] + 1) / 2;
            }
            Map<String, TensorValue> ort = OrtOracle.run(tapped, Map.of("pixel_values",
                    TensorValue.ofFloats("pixel_values", x01, 2, 3, 32, 32)));
            // block taps: tokens [2, 17, 32] -> patch grid [2, 4, 4, 32] with the CLS token appended: [2, 4, 4, 64]
            for (int t : new int[] {0, 1, 3}) {
                float[] tokens = ort.get(taps.get(t)).toFloats();
                Tensor grid = f.get(taps.get(t));
                assertThat(grid.shape()).containsExactly(2, 4, 4, 64);
                double worst = 0;
                for (int b = 0; b < 2; b++) {
                    for (int p = 0; p < 16; p++) {
                        for (int c = 0; c < 32; c++) {
                            float want = tokens[(b * 17 + 1 + p) * 32 + c];
                            float cls = tokens[(b * 17) * 32 + c];
                            worst = Math.max(worst, Math.abs(grid.at(b, p / 4, p % 4, c) - want));
                            worst = Math.max(worst, Math.abs(grid.at(b, p / 4, p % 4, 32 + c) - cls));
                        }
                    }
                }
                assertThat(worst).as(taps.get(t)).isLessThan(1e-4);
            }
            // the patch embedding is the convolution's NCHW output, as NHWC
            float[] conv = ort.get(taps.get(2)).toFloats();
            Tensor grid = f.get(taps.get(2));
            assertThat(grid.shape()).containsExactly(2, 4, 4, 32);
            double worst = 0;
            for (int b = 0; b < 2; b++) {
                for (int c = 0; c < 32; c++) {
                    for (int p = 0; p < 16; p++) {
                        worst = Math.max(worst, Math.abs(grid.at(b, p / 4, p % 4, c) - conv[(b * 32 + c) * 16 + p]));
                    }
                }
            }
            assertThat(worst).isLessThan(1e-4);
            // heads with two stride-2 convolutions on a 4x4 grid: 1x1 logits per head
            assertThat(d.logitGrids()).allSatisfy(g -> assertThat(g).containsExactly(1, 1));
            assertThat(d.forward(ModuleInputs.of(x, null)).shape()).containsExactly(2, 4);
        }
    }
}
