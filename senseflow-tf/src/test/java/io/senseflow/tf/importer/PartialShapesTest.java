package io.senseflow.tf.importer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.testing.Compare;
import io.senseflow.tf.testing.OrtOracle;
import io.senseflow.tf.testing.TfRun;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;

/**
 * Shape arithmetic over a symbolic batch: what depends only on static sizes folds, what depends on a symbolic size
 * stays a run-time value and is never guessed (checked against ONNX Runtime at batch sizes that differ).
 */
class PartialShapesTest {

    private static String dimOf(GraphBuilder g, String x, long axis) {
        return g.unsqueeze(g.gather(g.shape(x), g.longScalar(axis), 0), 0);
    }

    private static TensorValue ramp(String name, long... dims) {
        int n = 1;
        for (long d : dims) {
            n *= (int) d;
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (i % 7) * 0.25f - 0.5f;
        }
        return TensorValue.ofFloats(name, v, dims);
    }

    @Test
    void theStaticSizesOfAShapeWithASymbolicBatchFoldIntoAStaticReshape() {
        GraphBuilder g = GraphBuilder.create("fold", 17);
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(6));
        // Reshape(x, [Shape(x)[0], Shape(x)[1] / 3, 3]): the batch is symbolic, 6 / 3 is known
        String two = g.op("Div").input(dimOf(g, x, 1), g.longVector(3)).output();
        String y = g.reshape(x, g.concat(0, dimOf(g, x, 0), two, g.longVector(3)));
        g.output(y, DataType.FLOAT, Dim.symbolic("batch"), Dim.of(2), Dim.of(3));
        OnnxModel m = g.build();
        try (Graph tf = new Graph()) {
            ImportedGraph ig = new OnnxImporter(m, ImportOptions.defaults()).importInto(tf, "m");
            assertThat(ig.output(y).shape().asArray()).containsExactly(-1, 2, 3);
        }
        for (int batch : new int[] {1, 5}) {
            Map<String, TensorValue> in = Map.of("x", ramp("x", batch, 6));
            Compare.assertClose("batch " + batch, OrtOracle.run(m, in).get(y),
                    TfRun.run(m, ImportOptions.defaults(), in).get(y), 0, 0);
        }
    }

    @Test
    void theDifferenceOfTwoSymbolicBatchesStaysARunTimeValue() {
        GraphBuilder g = GraphBuilder.create("diff", 17);
        String a = g.input("a", DataType.FLOAT, Dim.symbolic("n"), Dim.of(3));
        String b = g.input("b", DataType.FLOAT, Dim.symbolic("m"), Dim.of(3));
        // Shape(a)[0] - Shape(b)[0]: unknown on both sides, it must not fold to 0; Shape(a)[1] - Shape(b)[1] = 0 may
        String d = g.concat(0, g.sub(dimOf(g, a, 0), dimOf(g, b, 0)), g.sub(dimOf(g, a, 1), dimOf(g, b, 1)));
        g.output(d, DataType.INT64, Dim.of(2));
        OnnxModel m = g.build();
        Map<String, TensorValue> in = Map.of("a", ramp("a", 2, 3), "b", ramp("b", 5, 3));
        TensorValue got = TfRun.run(m, ImportOptions.defaults(), in).get(d);
        assertThat(got.toLongs()).containsExactly(-3, 0);
        Compare.assertClose("vs ORT", OrtOracle.run(m, in).get(d), got, 0, 0);
    }

    @Test
    void aSymbolicSizeUsedAsASliceBoundIsRefusedNotGuessed() {
        // BERT's position ids: Slice(buffer [1, 64], 0, Shape(x)[1]); a stand-in for the size would be clamped to 64
        GraphBuilder g = GraphBuilder.create("bound", 17);
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.symbolic("seq"));
        long[] ids = new long[64];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        String buffer = g.constant(TensorValue.ofLongs("position_ids", ids, 1, 64));
        String y = g.op("Slice").name("/embeddings/Slice").input(buffer, g.longVector(0), dimOf(g, x, 1),
                g.longVector(1)).output();
        g.output(y, DataType.INT64, Dim.of(1), Dim.symbolic("seq"));
        OnnxModel m = g.build();
        try (Graph tf = new Graph()) {
            assertThatThrownBy(() -> new OnnxImporter(m, ImportOptions.defaults()).importInto(tf, "m"))
                    .isInstanceOf(OnnxImportException.class).hasMessageContaining("/embeddings/Slice")
                    .hasMessageContaining("ends").hasMessageContaining("ImportOptions.inputShape");
        }
        // with the sequence given, it folds and agrees with ONNX Runtime
        ImportOptions opts = ImportOptions.builder().inputShape("x", -1, 12).build();
        Map<String, TensorValue> in = Map.of("x", ramp("x", 3, 12));
        Compare.assertClose("seq 12", OrtOracle.run(m, in).get(y), TfRun.run(m, opts, in).get(y), 0, 0);
    }
}
