package io.senseflow.tf.importer;

import io.senseflow.fixtures.Fixtures;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.tf.graph.TfVariable;
import io.senseflow.tf.testing.Compare;
import io.senseflow.tf.testing.TfRun;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;

/** The PyTorch exports import (specialised to the reference batch) and reproduce PyTorch's outputs. */
class TorchFixturesImportTest {
    static final Path DIR = Fixtures.path("torch-exports");

    @BeforeAll
    static void fixturesPresent() {
    }

    private static Map<String, TensorValue> reference(String name, String prefix) {
        Map<String, TensorValue> m = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(DIR.resolve(name + ".reference.safetensors"))) {
            for (String n : f.names()) {
                if (n.startsWith(prefix)) {
                    TensorValue t = f.tensorValue(n);
                    String key = n.substring(prefix.length());
                    m.put(key, TensorValue.ofRaw(key, t.dataType(), copy(t), t.dims()));
                }
            }
        }
        return m;
    }

    private static java.nio.ByteBuffer copy(TensorValue t) {
        java.nio.ByteBuffer b = t.bytes();
        java.nio.ByteBuffer c = java.nio.ByteBuffer.allocate(b.remaining()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        c.put(b.duplicate()).flip();
        return c;
    }

    @Test
    void bertReproducesPyTorch() {
        OnnxModel m = OnnxModel.read(DIR.resolve("bert_tiny.onnx"));
        ImportOptions opts = ImportOptions.builder().inputShape("input_ids", 2, 12).inputShape("attention_mask", 2, 12)
                .build();
        Map<String, TensorValue> got = TfRun.run(m, opts, reference("bert_tiny", "input."));
        Map<String, TensorValue> want = reference("bert_tiny", "output.");
        for (String o : List.of("last_hidden_state", "pooler_output")) {
            double d = Compare.assertClose("bert " + o, want.get(o), got.get(o), 1e-4, 0);
            assertThat(d).as(o).isLessThan(1e-4);
        }
    }

    @Test
    void vitReproducesPyTorch() {
        OnnxModel m = OnnxModel.read(DIR.resolve("vit_tiny.onnx"));
        ImportOptions opts = ImportOptions.builder().inputShape("pixel_values", 2, 3, 32, 32).build();
        Map<String, TensorValue> got = TfRun.run(m, opts, reference("vit_tiny", "input."));
        Map<String, TensorValue> want = reference("vit_tiny", "output.");
        for (String o : List.of("last_hidden_state", "pooler_output")) {
            Compare.assertClose("vit " + o, want.get(o), got.get(o), 1e-4, 0);
        }
    }

    @Test
    void vitWithADynamicBatchStillImportsAndRuns() {
        // the patch-embedding Reshape takes its shape from Shape(x) at run time: the dynamic Reshape path
        OnnxModel m = OnnxModel.read(DIR.resolve("vit_tiny.onnx"));
        Map<String, TensorValue> got = TfRun.run(m, ImportOptions.defaults(), reference("vit_tiny", "input."));
        Compare.assertClose("vit dynamic", reference("vit_tiny", "output.").get("pooler_output"),
                got.get("pooler_output"), 1e-4, 0);
    }

    @Test
    void bertWithDynamicSequenceFailsNamingTheNodeAndTheFix() {
        // the position-id Slice ends are Shape(input_ids)[1], the dynamic sequence itself: they cannot be known
        OnnxModel m = OnnxModel.read(DIR.resolve("bert_tiny.onnx"));
        try (Graph g = new Graph()) {
            assertThatThrownBy(() -> new OnnxImporter(m, ImportOptions.defaults()).importInto(g, "bert"))
                    .isInstanceOf(OnnxImportException.class).hasMessageContaining("Slice (opset 17)")
                    .hasMessageContaining("/model/embeddings/Slice").hasMessageContaining("ImportOptions.inputShape");
        }
    }

    @Test
    void bertWithOnlyTheBatchSymbolicImportsAndRunsAtTwoBatchSizes() {
        // the batch stays symbolic; Shape(input_ids)[1] = 12 is known, so the Slice folds
        OnnxModel m = OnnxModel.read(DIR.resolve("bert_tiny.onnx"));
        ImportOptions opts = ImportOptions.builder().inputShape("input_ids", -1, 12).inputShape("attention_mask", -1, 12)
                .build();
        Map<String, TensorValue> got = TfRun.run(m, opts, reference("bert_tiny", "input."));
        Map<String, TensorValue> want = reference("bert_tiny", "output.");
        for (String o : List.of("last_hidden_state", "pooler_output")) {
            Compare.assertClose("bert symbolic batch " + o, want.get(o), got.get(o), 1e-4, 0);
        }
    }

    @Test
    void parametersBecomeVariablesWithTheirOriginalNamesAndSharedOnesAreUntied() {
        OnnxModel m = OnnxModel.read(DIR.resolve("bert_tiny.onnx"));
        ImportOptions opts = ImportOptions.builder().inputShape("input_ids", 2, 12).inputShape("attention_mask", 2, 12)
                .build();
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(m, opts).importInto(g, "bert");
            List<String> names = ig.trainableVariables().stream().map(TfVariable::originalName).toList();
            // 19 float initializers + 20 Identity-shared parameters (pooler bias, per-layer biases and norms)
            assertThat(names).hasSize(39).contains("onnx::MatMul_371", "model.pooler.dense.bias",
                    "model.encoder.layer.1.output.LayerNorm.weight", "model.embeddings.word_embeddings.weight");
            for (TfVariable v : ig.trainableVariables()) {
                assertThat(v.tfName()).matches("[A-Za-z0-9.][A-Za-z0-9_.\\-/]*").doesNotContain("::");
                assertThat(ig.originalNames().get(v.tfName())).isEqualTo(v.originalName());
            }
            // shape arithmetic and masks were folded; nothing fed by a variable was
            System.out.println("bert: " + ig);
            assertThat(ig.foldedNodes()).isGreaterThan(150);
            assertThat(ig.importedNodes()).isLessThan(120);
        }
    }

    @Test
    void frozenImportHasNoTrainableVariables() {
        OnnxModel m = OnnxModel.read(DIR.resolve("vit_tiny.onnx"));
        ImportOptions opts = ImportOptions.builder().inputShape("pixel_values", 2, 3, 32, 32).frozen().build();
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(m, opts).importInto(g, "vit");
            assertThat(ig.trainableVariables()).isEmpty();
        }
        Map<String, TensorValue> got = TfRun.run(m, opts, reference("vit_tiny", "input."));
        Compare.assertClose("vit frozen", reference("vit_tiny", "output.").get("last_hidden_state"),
                got.get("last_hidden_state"), 1e-4, 0);
    }
}
