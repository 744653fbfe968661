package io.senseflow.onnx.runtime;

import static io.senseflow.onnx.runtime.Fixtures.CPU1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.ConvOptions;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.WriteOptions;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Graph + safetensors weights through ONNX Runtime's external initializers. The graph is x [1,2,4,4] -> Conv(3x3,
 * pad 1, 3 output channels, bias) -> MatMul with [4,5] -> y [1,3,4,5]. With all-constant weights and x = 1 the output
 * has a closed form, so both replaced weights are checked exactly.
 */
class WeightOverridesTest {
    private static OrtRuntime ort;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        ort = OrtRuntime.create(CPU1);
    }

    @AfterAll
    static void stop() {
        ort.close();
    }

    static OnnxModel convMatMul(float convWeight, float convBias, float matWeight) {
        GraphBuilder g = GraphBuilder.create("conv_matmul");
        String x = g.input("x", DataType.FLOAT, Dim.of(1), Dim.of(2), Dim.of(4), Dim.of(4));
        float[] w = new float[3 * 2 * 3 * 3];
        Arrays.fill(w, convWeight);
        String c = g.inScope("conv", () -> g.conv(x, g.initializer("weight", w, 3, 2, 3, 3),
                g.initializer("bias", new float[] {convBias, convBias, convBias}, 3), ConvOptions.of2d(1, 1)));
        float[] m = new float[4 * 5];
        Arrays.fill(m, matWeight);
        String y = g.inScope("proj", () -> g.matMul(c, g.initializer("weight", m, 4, 5)));
        g.output(y, "y", DataType.FLOAT, Dim.of(1), Dim.of(3), Dim.of(4), Dim.of(5));
        return g.build();
    }

    /** y[c][i][j] for x = 1: each conv output counts its in-bounds taps; the matmul sums a row of four. */
    static float expected(float convWeight, float convBias, float matWeight, int i) {
        int[] taps = {2, 3, 3, 2}; // in-bounds taps per row/column of a 4-wide padded 3x3 window
        double rowSum = 0;
        for (int j = 0; j < 4; j++) {
            rowSum += 2 * convWeight * taps[i] * taps[j] + convBias;
        }
        return (float) (rowSum * matWeight);
    }

    static Tensor run(OrtModel m) {
        return m.run(Map.of("x", Tensor.full(1f, 1, 2, 4, 4))).get("y");
    }

    static void assertOutput(Tensor y, float convWeight, float convBias, float matWeight) {
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 4; i++) {
                for (int k = 0; k < 5; k++) {
                    assertThat(y.at(0, c, i, k)).isCloseTo(expected(convWeight, convBias, matWeight, i),
                            org.assertj.core.api.Assertions.within(1e-4f));
                }
            }
        }
    }

    private Path weights(String name, float convWeight, float matWeight) {
        float[] w = new float[3 * 2 * 3 * 3];
        Arrays.fill(w, convWeight);
        float[] m = new float[20];
        Arrays.fill(m, matWeight);
        Path p = dir.resolve(name);
        new SafetensorsWriter().addFloats("conv.weight", w, 3, 2, 3, 3).addFloats("proj.weight", m, 4, 5).write(p);
        return p;
    }

    private static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    @Test
    void safetensorsWeightsReplaceConvAndMatMulWeightsAndLeaveTheGraphAlone() throws Exception {
        Path model = dir.resolve("model.onnx");
        convMatMul(0.1f, 0.5f, 0.25f).write(model);
        String before = sha256(model);
        try (OrtModel original = ort.load(model)) {
            assertOutput(run(original), 0.1f, 0.5f, 0.25f);
        }
        Path st = weights("student.safetensors", 1f, 2f);
        for (OptimizationLevel level : OptimizationLevel.values()) {
            try (OrtModel swapped = ort.load(model, CPU1.toBuilder().optimizationLevel(level).build(),
                    WeightOverrides.fromSafetensors(st))) {
                // both weights changed; the bias kept the graph's own value
                assertOutput(run(swapped), 1f, 0.5f, 2f);
            }
        }
        assertThat(sha256(model)).isEqualTo(before);
        assertThat(dir.resolve("model.onnx_data")).doesNotExist();
        try (OrtModel again = ort.load(model)) {
            assertOutput(run(again), 0.1f, 0.5f, 0.25f);
        }
    }

    @Test
    void modelsWithTheirOwnExternalDataKeepIt() throws Exception {
        Path model = dir.resolve("ext/model.onnx");
        Files.createDirectories(model.getParent());
        convMatMul(0.1f, 0.5f, 0.25f).write(model, WriteOptions.externalData(0));
        Path data = dir.resolve("ext/model.onnx_data");
        String modelHash = sha256(model);
        String dataHash = sha256(data);
        // only the matmul weight is replaced; conv weight and bias still come from model.onnx_data
        Path st = dir.resolve("proj.safetensors");
        float[] m = new float[20];
        Arrays.fill(m, -1f);
        new SafetensorsWriter().addFloat16("proj.weight", m, 4, 5).write(st);
        try (OrtModel swapped = ort.load(model, CPU1, WeightOverrides.fromSafetensors(st))) {
            assertOutput(run(swapped), 0.1f, 0.5f, -1f);
        }
        assertThat(sha256(model)).isEqualTo(modelHash);
        assertThat(sha256(data)).isEqualTo(dataHash);
    }

    @Test
    void inMemoryModelsTakeWeightsToo() {
        try (OrtModel m = ort.load(convMatMul(0f, 0f, 0f), "placeholder.onnx", CPU1,
                WeightOverrides.fromSafetensors(weights("w.safetensors", 0.5f, 3f)))) {
            assertOutput(run(m), 0.5f, 0f, 3f);
        }
    }

    @Test
    void renamedWeightsAreMapped() {
        Path st = dir.resolve("prefixed.safetensors");
        float[] m = new float[20];
        Arrays.fill(m, 4f);
        new SafetensorsWriter().addFloats("model.proj.weight", m, 4, 5).addFloats("unrelated", new float[] {1}, 1).write(st);
        WeightOverrides w = WeightOverrides.fromSafetensors(st)
                .withRename(n -> n.startsWith("model.") ? n.substring("model.".length()) : null);
        try (OrtModel swapped = ort.load(convMatMul(0.1f, 0.5f, 0.25f), "m.onnx", CPU1, w)) {
            assertOutput(run(swapped), 0.1f, 0.5f, 4f);
        }
    }

    @Test
    void wrongWeightsAreRefusedNamingTheTensor() {
        OnnxModel graph = convMatMul(0.1f, 0.5f, 0.25f);
        Path misshaped = dir.resolve("misshaped.safetensors");
        new SafetensorsWriter().addFloats("proj.weight", new float[20], 5, 4).write(misshaped);
        assertThatThrownBy(() -> ort.load(graph, "m.onnx", CPU1, WeightOverrides.fromSafetensors(misshaped)))
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("misshaped.safetensors: tensor 'proj.weight' has shape [5, 4], but initializer 'proj.weight' of "
                        + "m.onnx has shape [4, 5]");

        Path unknown = dir.resolve("unknown.safetensors");
        new SafetensorsWriter().addFloats("proj.wieght", new float[20], 4, 5).write(unknown);
        assertThatThrownBy(() -> ort.load(graph, "m.onnx", CPU1, WeightOverrides.fromSafetensors(unknown)))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageStartingWith("unknown.safetensors: tensor 'proj.wieght' matches no initializer of m.onnx; "
                        + "its initializers are [conv.weight, conv.bias, proj.weight]");
        try (OrtModel skipping = ort.load(graph, "m.onnx", CPU1, WeightOverrides.fromSafetensors(unknown).withIgnoreUnmatched(true))) {
            assertOutput(run(skipping), 0.1f, 0.5f, 0.25f);
        }

        Path partial = dir.resolve("partial.safetensors");
        new SafetensorsWriter().addFloats("proj.weight", new float[20], 4, 5).write(partial);
        assertThatThrownBy(() -> ort.load(graph, "m.onnx", CPU1, WeightOverrides.fromSafetensors(partial).withRequireAll(true)))
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("m.onnx: initializer 'conv.weight' has no weight in partial.safetensors (2 missing: "
                        + "[conv.weight, conv.bias]); requireAll is set");

        Path ints = dir.resolve("ints.safetensors");
        new SafetensorsWriter().addLongs("conv.bias", new long[] {1, 2, 3}, 3).write(ints);
        assertThatThrownBy(() -> ort.load(graph, "m.onnx", CPU1, WeightOverrides.fromSafetensors(ints)))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageStartingWith("ints.safetensors: tensor 'conv.bias' is I64, but initializer 'conv.bias' of m.onnx is FLOAT");

        assertThatThrownBy(() -> ort.load(graph, "m.onnx", CPU1, WeightOverrides.fromSafetensors(dir.resolve("absent.safetensors"))))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("absent.safetensors");
    }
}
