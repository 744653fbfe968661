package io.senseflow.tf.importer;

import static io.senseflow.tf.testing.OpCase.d;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.graph.TfVariable;
import io.senseflow.tf.testing.Compare;
import io.senseflow.tf.testing.OrtOracle;
import io.senseflow.tf.testing.TfRun;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.Tensor;

/** Folding rules, variables, constants, tapping and the import errors. */
class ImporterBehaviourTest {

    /** y = x W^T + 2 b, with W and b initializers. */
    private static OnnxModel affine() {
        GraphBuilder g = GraphBuilder.create("affine");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(4));
        String w = g.initializer("w", new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 3, 4);
        String b = g.initializer("b", new float[] {0.5f, -1, 2}, 3);
        String wt = g.transpose(w, 1, 0);
        String y = g.add(g.matMul(x, wt), g.mul(b, g.floatScalar(2)));
        g.output(y, "y", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        return g.build();
    }

    private static final Map<String, TensorValue> X = Map.of("x", TensorValue.ofFloats("x",
            new float[] {1, 0, -1, 2, 0.5f, 0.5f, 0.5f, 0.5f}, 2, 4));

    @Test
    void aSubgraphFedByATrainableInitializerIsNeverFolded() {
        OnnxModel m = affine();
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(m, ImportOptions.defaults()).importInto(g, "a");
            assertThat(ig.trainableVariables()).extracting(TfVariable::originalName).containsExactly("w", "b");
            assertThat(ig.importedNodes()).isEqualTo(5); // Transpose, MatMul, Mul, Add, output Identity
            try (Session s = new Session(g)) {
                ig.initializeVariables(s);
                Compare.assertClose("trainable", OrtOracle.run(m, X).get("y"), TfRun.run(s, ig, X,
                        List.of(ig.output("y")), List.of("y")).get("y"), 1e-6, 1e-6);
                // writing the variables changes the output: nothing depending on them was frozen in
                TfVariable w = ig.trainableVariables().get(0);
                try (Tensor zeros = TfTensors.floats(new float[12], 3, 4)) {
                    s.runner().feed(w.feedPlaceholder(), zeros).addTarget(w.assignOp()).run().close();
                }
                float[] y = TfRun.run(s, ig, X, List.of(ig.output("y")), List.of("y")).get("y").toFloats();
                assertThat(y).containsExactly(1, -2, 4, 1, -2, 4);
            }
        }
        try (Graph g = new Graph()) {
            ImportedGraph frozen = new OnnxImporter(m, ImportOptions.builder().frozen().build()).importInto(g, "a");
            assertThat(frozen.trainableVariables()).isEmpty();
            assertThat(frozen.importedNodes()).isEqualTo(3); // MatMul, Add, Identity; Transpose(w) and 2 b folded
        }
    }

    @Test
    void trainablePatternSelectsByOriginalName() {
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(affine(), ImportOptions.builder().trainablePattern("^w$").build())
                    .importInto(g, "a");
            assertThat(ig.trainableVariables()).extracting(TfVariable::originalName).containsExactly("w");
        }
    }

    @Test
    void largeConstantsBecomeFedVariablesNotGraphConstants() {
        OnnxModel m = affine();
        ImportOptions opts = ImportOptions.builder().frozen().inlineConstantBytes(16).build();
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(m, opts).importInto(g, "a");
            assertThat(ig.variables()).hasSize(1).allMatch(v -> !v.trainable());
            // the 48-byte transposed weight lives in a variable, fed at initialisation
            var ops = g.operations();
            while (ops.hasNext()) {
                var op = ops.next();
                if (op.type().equals("Const")) {
                    assertThat(op.output(0).shape().size()).as(op.name()).isLessThan(12);
                }
            }
        }
        Compare.assertClose("large frozen", OrtOracle.run(m, X).get("y"), TfRun.run(m, opts, X).get("y"), 1e-6, 1e-6);
    }

    @Test
    void intermediateValuesCanBeTapped() {
        OnnxModel m = affine();
        ImportOptions opts = ImportOptions.builder().outputs("/MatMul_output_0").build();
        Map<String, TensorValue> got = TfRun.run(m, opts, X);
        assertThat(got).containsOnlyKeys("/MatMul_output_0");
        assertThat(got.get("/MatMul_output_0").toFloats()).containsExactly(6, 14, 22, 5, 13, 21);
    }

    @Test
    void unsupportedOperatorsAreNamedWithNodeAndOpset() {
        GraphBuilder g = GraphBuilder.create("det");
        String x = g.input("x", DataType.FLOAT, d(2, 3, 3));
        String y = g.op("Det").name("find_them").input(x).output();
        g.output(y, DataType.FLOAT, Dim.of(2));
        try (Graph tf = new Graph()) {
            assertThatThrownBy(() -> new OnnxImporter(g.build(), ImportOptions.defaults()).importInto(tf, "m"))
                    .isInstanceOf(UnsupportedOperatorException.class).hasMessageContaining("Det (opset 17)")
                    .hasMessageContaining("'find_them'").hasMessageContaining("supported: Abs, Add");
        }
        GraphBuilder h = GraphBuilder.create("ms");
        String a = h.input("a", DataType.FLOAT, d(2));
        h.importOpset("com.microsoft", 1);
        String b = h.op("FusedGelu").domain("com.microsoft").input(a).output();
        h.output(b, DataType.FLOAT, d(2));
        try (Graph tf = new Graph()) {
            assertThatThrownBy(() -> new OnnxImporter(h.build(), ImportOptions.defaults()).importInto(tf, "m"))
                    .isInstanceOf(UnsupportedOperatorException.class).hasMessageContaining("com.microsoft.FusedGelu");
        }
    }

    @Test
    void unhandledElementTypesAndBadOptionsFailClearly() {
        GraphBuilder g = GraphBuilder.create("i8");
        String x = g.input("x", DataType.INT8, d(2));
        g.output(g.identity(x), DataType.INT8, d(2));
        try (Graph tf = new Graph()) {
            assertThatThrownBy(() -> new OnnxImporter(g.build(), ImportOptions.defaults()).importInto(tf, "m"))
                    .isInstanceOf(OnnxImportException.class).hasMessageContaining("graph input 'x'")
                    .hasMessageContaining("INT8");
        }
        assertThatThrownBy(() -> new OnnxImporter(affine(), ImportOptions.builder().inputShape("nope", 1).build()))
                .isInstanceOf(OnnxImportException.class).hasMessageContaining("'nope'").hasMessageContaining("[x]");
    }
}
