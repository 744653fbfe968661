package io.senseflow.tf.export;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.WriteOptions;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.onnx.runtime.WeightOverrides;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.tf.train.DenoiserSpec;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trained in TensorFlow, served by ONNX Runtime: the in-house flow transformer trained a few steps, exported as
 * graph + safetensors (external initializers) and as a self-contained model, gives ONNX Runtime the TensorFlow outputs.
 */
class OnnxExportTest {
    static final FlowTransformer.Config CFG = FlowTransformer.Config.builder().latentChannels(4).latentSize(8, 8)
            .patchSize(2).width(32).depth(2).heads(2).textWidth(16).textLength(4).pooledWidth(16).mlpRatio(2).build();
    static final int BATCH = 3;

    @TempDir
    Path dir;

    static ModuleInputs inputs(long seed) {
        Tensor x = GaussianNoise.sample(seed, 0, 1, BATCH, 4, 8, 8);
        Tensor tokens = GaussianNoise.sample(seed, 0, 2, BATCH, 4, 16);
        Tensor pooled = GaussianNoise.sample(seed, 0, 3, BATCH, 16);
        return ModuleInputs.denoiser(x, new float[] {0.9f, 0.5f, 0.1f}, Conditioning.of(tokens, pooled));
    }

    static Map<String, Tensor> ortInputs(ModuleInputs in) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put(FlowTransformer.HIDDEN_STATES, in.get(ModuleInputs.X));
        m.put(FlowTransformer.TIMESTEP, in.get(ModuleInputs.SIGMA));
        m.put(FlowTransformer.ENCODER_HIDDEN_STATES, in.get(ModuleInputs.TOKENS));
        m.put(FlowTransformer.POOLED_PROJECTIONS, in.get(ModuleInputs.POOLED));
        return m;
    }

    static double maxDiff(Tensor a, Tensor b) {
        return MlpGraph.maxDiff(a, b);
    }

    @Test
    void aFlowTransformerTrainedInTensorFlowRunsIdenticallyInOnnxRuntimeAfterExport() {
        OnnxModel source = FlowTransformer.build(CFG, 3, Init.RANDOM_ALL);
        Path sourceFile = dir.resolve("source/model.onnx");
        source.write(sourceFile, WriteOptions.externalData(1024));
        ModuleInputs probe = inputs(99);
        Tensor tfOut;
        Map<String, Tensor> trained;
        try (TfModule g = DenoiserSpec.inHouse().applyTo(TfModule.builder(source).name("generator")
                .importOptions(DenoiserSpec.batchShapes(source, BATCH, io.senseflow.tf.importer.ImportOptions.defaults()))
                .optimizer(AdamWConfig.constant(3e-3))).build()) {
            for (int step = 0; step < 5; step++) {
                ModuleInputs in = inputs(step);
                g.optimizer().zeroGradients();
                g.backward(in, Upstream.mse(GaussianNoise.sample(step, 0, 9, BATCH, 4, 8, 8), null),
                        GradientMode.PARAMETERS);
                g.optimizer().clipGradientNorm(1.0);
                g.optimizer().step();
            }
            tfOut = g.forward(probe);
            trained = g.parameters().snapshot();
            OnnxExport export = OnnxExport.of(source, g.parameters()).withProvenance(Map.of("steps", "5", "teacher", "t",
                    "recipe", "gan", "iteration", "5", "zeta", "z", "alpha", "a", "machine", "m"));
            assertThat(export.untiedParameters()).isEmpty();
            export.writeSafetensors(dir.resolve("export/student.safetensors"));
            export.writeModel(dir.resolve("export/model.onnx"));
        }
        assertThat(tfOut.maxAbs()).as("non-trivial output").isGreaterThan(0.1f);
        assertThat(Files.exists(dir.resolve("export/model.onnx_data"))).isTrue();
        try (SafetensorsFile st = SafetensorsFile.open(dir.resolve("export/student.safetensors"))) {
            assertThat(st.names()).containsExactlyInAnyOrderElementsOf(trained.keySet());
            assertThat(st.metadata()).containsEntry("steps", "5");
            assertThat(st.tensor("proj_out.weight")).isEqualTo(trained.get("proj_out.weight"));
        }
        try (OrtRuntime ort = OrtRuntime.create();
             OrtModel original = ort.load(sourceFile);
             OrtModel overridden = ort.load(sourceFile, SessionConfig.defaults(),
                     WeightOverrides.fromSafetensors(dir.resolve("export/student.safetensors")).withRequireAll(true));
             OrtModel selfContained = ort.load(dir.resolve("export/model.onnx"))) {
            Tensor before = original.run(ortInputs(probe)).get(FlowTransformer.OUT_HIDDEN_STATES);
            Tensor viaOverrides = overridden.run(ortInputs(probe)).get(FlowTransformer.OUT_HIDDEN_STATES);
            Tensor viaModel = selfContained.run(ortInputs(probe)).get(FlowTransformer.OUT_HIDDEN_STATES);
            double dOverrides = maxDiff(viaOverrides, tfOut);
            double dModel = maxDiff(viaModel, tfOut);
            double moved = maxDiff(before, tfOut);
            System.out.printf("export parity: |ORT(graph + safetensors) - TF| = %.3g, |ORT(exported model) - TF| = %.3g,"
                    + " training moved the output by %.3g (max |out| %.3g)%n", dOverrides, dModel, moved, tfOut.maxAbs());
            assertThat(moved).as("the training steps changed the model").isGreaterThan(1e-2);
            assertThat(dOverrides).isLessThanOrEqualTo(1e-4);
            assertThat(dModel).isLessThanOrEqualTo(1e-4);
        }
        OnnxModel reread = OnnxModel.read(dir.resolve("export/model.onnx"));
        assertThat(reread.metadata()).containsEntry("senseflow.trained.steps", "5")
                .containsEntry("senseflow.architecture", "flow_transformer");
        // the provenance is written sorted by key whatever map was given (Map.of's order differs between JVMs), so the
        // same run exports the same bytes
        java.util.List<String> keys = reread.metadata().keySet().stream().filter(k -> k.startsWith("senseflow.trained.")
                && !k.equals("senseflow.trained.parameters")).toList();
        assertThat(keys).hasSize(7).isSorted();
    }

    /** y = x W1^T + x W2^T with W2 = Identity(W1), as PyTorch exports two parameters that happen to be equal. */
    static OnnxModel tiedGraph() {
        GraphBuilder g = GraphBuilder.create("tied");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        String w1 = g.initializer("a.weight", new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        String w2 = g.identity(w1);
        String y = g.add(g.gemm(x, w1, null, 1f, 1f, false, true), g.gemm(x, w2, null, 1f, 1f, false, true));
        g.output(y, "y", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(2));
        return g.build();
    }

    @Test
    void untiedParametersBecomeTheirOwnInitializersInTheExport() {
        OnnxModel source = tiedGraph();
        ModuleInputs in = ModuleInputs.of(Tensor.of(new float[] {1, -1, 2, 0.5f, 0, -2}, 2, 3), null);
        Tensor tfOut;
        OnnxExport export;
        try (TfModule m = TfModule.builder(source).input(InputBinding.of(ModuleInputs.X, "x"))
                .optimizer(AdamWConfig.constant(0.1)).build()) {
            assertThat(m.parameters().specs()).hasSize(2);
            m.optimizer().zeroGradients();
            m.backward(in, Upstream.linear(1, null), GradientMode.PARAMETERS);
            m.optimizer().step();
            tfOut = m.forward(in);
            export = OnnxExport.of(source, m.parameters());
        }
        assertThat(export.untiedParameters()).hasSize(1).containsValue("a.weight");
        assertThat(export.model().graph().nodes("Identity")).noneMatch(n -> n.inputs().contains("a.weight"));
        assertThat(export.model().graph().initializers()).hasSize(2);
        export.writeModel(dir.resolve("m/model.onnx"));
        export.writeGraph(dir.resolve("g/model.onnx"));
        export.writeSafetensorsForGraph(dir.resolve("g/weights.safetensors"));
        // here both copies got the same gradient, so they still hold one value: retied, the file fits the source
        export.writeSafetensors(dir.resolve("o/weights.safetensors"));
        // copies trained apart: no file for the original graph can hold both
        Map<String, Tensor> apart = new java.util.LinkedHashMap<>(export.parameterNames().stream().collect(
                java.util.stream.Collectors.toMap(n -> n, n -> Tensor.zeros(2, 3))));
        apart.put(export.untiedParameters().keySet().iterator().next(), Tensor.full(0.5f, 2, 3));
        assertThatThrownBy(() -> OnnxExport.of(source, apart).writeSafetensors(dir.resolve("p/weights.safetensors")))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("a copy of a.weight")
                .hasMessageContaining("tieSharedParameters(true)");
        Map<String, Tensor> feed = Map.of("x", in.x());
        try (OrtRuntime ort = OrtRuntime.create();
             OrtModel a = ort.load(dir.resolve("m/model.onnx"));
             OrtModel b = ort.load(dir.resolve("g/model.onnx"), SessionConfig.defaults(),
                     WeightOverrides.fromSafetensors(dir.resolve("g/weights.safetensors")).withRequireAll(true));
             OrtModel o = ort.load(source, "source", SessionConfig.defaults(),
                     WeightOverrides.fromSafetensors(dir.resolve("o/weights.safetensors")).withRequireAll(true))) {
            assertThat(maxDiff(a.run(feed).get("y"), tfOut)).isLessThan(1e-5);
            assertThat(maxDiff(b.run(feed).get("y"), tfOut)).isLessThan(1e-5);
            assertThat(maxDiff(o.run(feed).get("y"), tfOut)).isLessThan(1e-5);
        }
    }

    @Test
    void parametersThatDoNotFitTheGraphAreRefusedByName() {
        OnnxModel source = tiedGraph();
        assertThatThrownBy(() -> OnnxExport.of(source, Map.of("b.weight", Tensor.zeros(2, 3))))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("b.weight")
                .hasMessageContaining("match no initializer");
        assertThatThrownBy(() -> OnnxExport.of(source, Map.of("a.weight", Tensor.zeros(3, 2))))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("a.weight")
                .hasMessageContaining("[2, 3]");
    }
}
