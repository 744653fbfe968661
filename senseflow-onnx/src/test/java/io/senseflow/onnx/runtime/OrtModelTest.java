package io.senseflow.onnx.runtime;

import static io.senseflow.onnx.runtime.Fixtures.CPU1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.tensor.HalfPrecision;
import io.senseflow.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class OrtModelTest {
    private static OrtRuntime ort;

    @BeforeAll
    static void start() {
        ort = OrtRuntime.create(CPU1);
    }

    @AfterAll
    static void stop() {
        ort.close();
    }

    @Test
    void vitTinyReproducesPyTorch() {
        try (OrtModel vit = ort.load(Fixtures.torchExport("vit_tiny.onnx"));
             SafetensorsFile ref = SafetensorsFile.open(Fixtures.torchExport("vit_tiny.reference.safetensors"))) {
            assertThat(vit.name()).isEqualTo("torch-exports/vit_tiny.onnx");
            TensorSpec in = vit.input("pixel_values");
            assertThat(in.elementType()).isEqualTo(DataType.FLOAT);
            assertThat(in.shape()).containsExactly(Dim.symbolic("batch"), Dim.of(3), Dim.of(32), Dim.of(32));
            assertThat(vit.outputs()).containsOnlyKeys("last_hidden_state", "pooler_output");
            assertThat(vit.executionInfo()).isEqualTo(new ExecutionInfo(ExecutionProvider.CPU, ExecutionProvider.CPU, null));

            Map<String, Tensor> out = vit.run(Map.of("pixel_values", ref.tensor("input.pixel_values")));
            for (String o : List.of("last_hidden_state", "pooler_output")) {
                assertThat(Fixtures.maxAbsDiff(out.get(o), ref.tensor("output." + o))).as(o).isLessThanOrEqualTo(1e-5f);
            }
            Tensor pooled = vit.runSingle(OrtInputs.create().put("pixel_values", ref.tensor("input.pixel_values")), "pooler_output");
            assertThat(pooled).isEqualTo(out.get("pooler_output"));
        }
    }

    @Test
    void concurrentRunsAgreeWithSequentialOnes() throws Exception {
        try (OrtModel vit = ort.load(Fixtures.torchExport("vit_tiny.onnx"))) {
            List<Tensor> inputs = new ArrayList<>();
            List<Tensor> expected = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                inputs.add(Fixtures.random(i, 1, 3, 32, 32));
                expected.add(vit.run(Map.of("pixel_values", inputs.get(i))).get("pooler_output"));
            }
            ExecutorService pool = Executors.newFixedThreadPool(4);
            try {
                List<Future<Tensor>> futures = new ArrayList<>();
                for (int rep = 0; rep < 3; rep++) {
                    for (Tensor x : inputs) {
                        futures.add(pool.submit(() -> vit.run(Map.of("pixel_values", x)).get("pooler_output")));
                    }
                }
                for (int i = 0; i < futures.size(); i++) {
                    assertThat(futures.get(i).get()).isEqualTo(expected.get(i % inputs.size()));
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    /** y = x * w + 1 in fp16 throughout: float tensors go in and come out. */
    @Test
    void float16ModelTakesAndReturnsFloatTensors() {
        GraphBuilder g = GraphBuilder.create("half");
        String x = g.input("x", DataType.FLOAT16, Dim.symbolic("batch"), Dim.of(4));
        String w = g.initializer(TensorValue.ofFloat16("w", new float[] {0.5f, -2f, 3f, 0.125f}, 4));
        String one = g.constant(TensorValue.ofFloat16("", new float[] {1f}));
        g.output(g.add(g.mul(x, w), one), "y", DataType.FLOAT16, Dim.symbolic("batch"), Dim.of(4));
        try (OrtModel m = ort.load(g.build(), "half.onnx", CPU1)) {
            assertThat(m.input("x").elementType()).isEqualTo(DataType.FLOAT16);
            Tensor xin = Tensor.of(new float[] {1f, 2f, 3f, 4f, 0.1f, 0.2f, 0.3f, 1000f}, 2, 4);
            Tensor y = m.run(Map.of("x", xin)).get("y");
            float[] wv = {0.5f, -2f, 3f, 0.125f};
            float[] expected = new float[8];
            for (int i = 0; i < 8; i++) {
                float xh = fp16(xin.get(i));
                expected[i] = fp16(fp16(xh * wv[i % 4]) + 1f);
            }
            assertThat(y.shape()).containsExactly(2, 4);
            assertThat(y.toArray()).containsExactly(expected);
        }
    }

    @Test
    void bfloat16InputsAreConverted() {
        GraphBuilder g = GraphBuilder.create("bf16");
        String x = g.input("x", DataType.BFLOAT16, Dim.of(3));
        g.output(g.cast(x, DataType.FLOAT), "y", DataType.FLOAT, Dim.of(3));
        try (OrtModel m = ort.load(g.build(), "bf16.onnx", CPU1)) {
            Tensor y = m.run(Map.of("x", Tensor.vector(1f, 1.00390625f, 3.14159f))).get("y");
            assertThat(y.toArray()).containsExactly(1f, 1f, HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBfloat16(3.14159f)));
        }
    }

    /** out = x * timestep, with timestep declared as a scalar or as a [batch] vector. */
    static OnnxModel timestepModel(boolean scalar) {
        GraphBuilder g = GraphBuilder.create(scalar ? "scalar_t" : "vector_t");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(2));
        String t = scalar ? g.input("timestep", DataType.FLOAT)
                : g.input("timestep", DataType.FLOAT, Dim.symbolic("batch"));
        String tb = scalar ? t : g.unsqueeze(t, 1);
        g.output(g.mul(x, tb), "out", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(2));
        return g.build();
    }

    @Test
    void scalarAndVectorTimestepsWorkThroughTheSameCall() {
        try (OrtModel scalar = ort.load(timestepModel(true), "scalar_t.onnx", CPU1);
             OrtModel vector = ort.load(timestepModel(false), "vector_t.onnx", CPU1)) {
            assertThat(scalar.input("timestep").isScalar()).isTrue();
            assertThat(vector.input("timestep").rank()).isEqualTo(1);
            Tensor x = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
            OrtInputs same = OrtInputs.create().put("x", x).put("timestep", Tensor.vector(0.5f, 0.5f));
            assertThat(scalar.run(same).get("out").toArray()).containsExactly(0.5f, 1f, 1.5f, 2f);
            OrtInputs same2 = OrtInputs.create().put("x", x).put("timestep", Tensor.vector(0.5f, 0.5f));
            assertThat(vector.run(same2).get("out").toArray()).containsExactly(0.5f, 1f, 1.5f, 2f);

            OrtInputs different = OrtInputs.create().put("x", x).put("timestep", Tensor.vector(0.5f, 2f));
            assertThat(vector.run(different).get("out").toArray()).containsExactly(0.5f, 1f, 6f, 8f);
            assertThatThrownBy(() -> scalar.run(OrtInputs.create().put("x", x).put("timestep", Tensor.vector(0.5f, 2f))))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("scalar_t.onnx: input 'timestep' is a scalar (rank 0)")
                    .hasMessageContaining("different values");
            // a rank-0 value on a rank-1 input becomes a one-element vector (broadcast by the graph)
            Tensor t0 = Tensor.of(new float[] {3f});
            assertThat(vector.run(OrtInputs.create().put("x", x.sliceBatch(0, 1)).put("timestep", t0.reshape()))
                    .get("out").toArray()).containsExactly(3f, 6f);
        }
    }

    @Test
    void idsAndFloatsConvertToTheDeclaredType() {
        GraphBuilder g = GraphBuilder.create("types");
        String ids = g.input("ids", DataType.INT32, Dim.symbolic("batch"), Dim.of(3));
        String fl = g.input("fl", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        String i64 = g.input("i64", DataType.INT64, Dim.symbolic("batch"), Dim.of(3));
        String sum = g.add(g.add(g.cast(ids, DataType.FLOAT), fl), g.cast(i64, DataType.FLOAT));
        g.output(sum, "sum", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        try (OrtModel m = ort.load(g.build(), "types.onnx", CPU1)) {
            Tensor out = m.run(OrtInputs.create()
                    .putIds("ids", new long[][] {{1, 2, 3}})
                    .putIds("fl", new long[] {10, 20, 30}, 1, 3)
                    .put("i64", Tensor.of(new float[] {100, 200, 300}, 1, 3))).get("sum");
            assertThat(out.toArray()).containsExactly(111f, 222f, 333f);

            assertThatThrownBy(() -> m.run(OrtInputs.create()
                    .putIds("ids", new long[][] {{1, 2, 3}})
                    .putIds("fl", new long[] {10, 20, 30}, 1, 3)
                    .put("i64", Tensor.of(new float[] {100, 200.5f, 300}, 1, 3))))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("input 'i64' is INT64: expected whole numbers, got 200.5 at element 1");
            assertThatThrownBy(() -> m.run(OrtInputs.create()
                    .putIds("ids", new long[][] {{1, 2, 1L << 40}})
                    .putIds("fl", new long[] {10, 20, 30}, 1, 3)
                    .put("i64", Tensor.of(new float[] {1, 2, 3}, 1, 3))))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("input 'ids' is INT32: value 1099511627776 at element 2 is outside");
        }
    }

    @Test
    void inputErrorsNameTheInputAndTheExpectation() {
        GraphBuilder g = GraphBuilder.create("transformer");
        String x = g.input("hidden_states", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(16), Dim.symbolic("h"), Dim.symbolic("w"));
        String c = g.input("encoder_hidden_states", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3), Dim.of(8));
        String s = g.reduceMean(c, false, 1, 2);
        g.output(g.add(x, g.unsqueeze(s, 1, 2, 3)), "out", DataType.FLOAT,
                Dim.symbolic("batch"), Dim.of(16), Dim.symbolic("h"), Dim.symbolic("w"));
        try (OrtModel m = ort.load(g.build(), "transformer/model.onnx", CPU1)) {
            Tensor good = Tensor.zeros(2, 16, 4, 4);
            Tensor cond = Tensor.zeros(2, 3, 8);
            assertThat(m.run(Map.of("hidden_states", good, "encoder_hidden_states", cond)).get("out").shape())
                    .containsExactly(2, 16, 4, 4);
            assertThatThrownBy(() -> m.run(Map.of("hidden_states", good, "encoder_hidden_states", cond, "pooled", cond)))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("transformer/model.onnx: unknown input 'pooled'; expected one of [hidden_states, encoder_hidden_states]");
            assertThatThrownBy(() -> m.run(Map.of("hidden_states", good)))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessageStartingWith("transformer/model.onnx: missing required input 'encoder_hidden_states' (FLOAT [batch, 3, 8])");
            assertThatThrownBy(() -> m.run(Map.of("hidden_states", Tensor.zeros(2, 4, 4, 4), "encoder_hidden_states", cond)))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("transformer/model.onnx: input 'hidden_states' expects dimension 1 = 16 (declared [batch, 16, h, w]), "
                            + "got 4 (shape [2, 4, 4, 4])");
            assertThatThrownBy(() -> m.run(Map.of("hidden_states", Tensor.zeros(16, 4, 4), "encoder_hidden_states", cond)))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("transformer/model.onnx: input 'hidden_states' expects rank 4 [batch, 16, h, w], got rank 3 [16, 4, 4]");
            assertThatThrownBy(() -> m.run(Map.of("hidden_states", good, "encoder_hidden_states", Tensor.zeros(3, 3, 8))))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("transformer/model.onnx: inputs 'hidden_states' and 'encoder_hidden_states' must agree on dimension 'batch': 2 vs 3");
            assertThatThrownBy(() -> m.run(OrtInputs.of(Map.of("hidden_states", good, "encoder_hidden_states", cond)), List.of("nope")))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("transformer/model.onnx: unknown output 'nope'; expected one of [out]");
        }
    }

    @Test
    void closingIsIdempotentAndUseAfterCloseFails() {
        OrtModel m;
        try (OrtRuntime rt = OrtRuntime.create(CPU1)) {
            m = rt.load(timestepModel(true), "t.onnx", CPU1);
            OrtModel other = rt.load(timestepModel(false), "u.onnx", CPU1);
            assertThat(rt.openModels()).isEqualTo(2);
            other.close();
            other.close();
            assertThat(other.isClosed()).isTrue();
            assertThat(rt.openModels()).isEqualTo(1);
            assertThatThrownBy(() -> other.run(Map.of("x", Tensor.zeros(1, 2), "timestep", Tensor.vector(1f))))
                    .isInstanceOf(IllegalStateException.class).hasMessage("OrtModel u.onnx is closed");
        }
        // the runtime closed what it created
        assertThat(m.isClosed()).isTrue();
        OrtRuntime closed = OrtRuntime.create(CPU1);
        closed.close();
        closed.close();
        assertThatThrownBy(() -> closed.load(timestepModel(true), "t.onnx", CPU1)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> closed.load(Path.of("x.onnx"))).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void missingAndCorruptFilesAreModelLoadErrors(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> ort.load(dir.resolve("absent.onnx")))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("absent.onnx does not exist");
        Path bad = dir.resolve("bad.onnx");
        java.nio.file.Files.write(bad, new byte[] {1, 2, 3, 4, 5});
        assertThatThrownBy(() -> ort.load(bad))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("ONNX Runtime cannot load").hasMessageContaining("bad.onnx");
        assertThatThrownBy(() -> ort.load(dir)).isInstanceOf(ModelLoadException.class).hasMessageContaining("is not a file");
    }

    private static float fp16(float v) {
        return HalfPrecision.float16ToFloat(HalfPrecision.floatToFloat16(v));
    }
}
