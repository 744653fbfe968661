package io.senseflow.onnx.ir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.onnx.safetensors.SafetensorsFile;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Graphs the SDK did not write: tiny BERT and ViT models exported by PyTorch (see the fixture folder's README).
 * Reading them, writing them back and running both in ONNX Runtime must give identical outputs.
 */
class TorchFixturesTest {

    static Path fixture(String name) {
        try {
            return Path.of(TorchFixturesTest.class.getResource("/fixtures/torch-exports/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void bertStructure() {
        OnnxModel m = OnnxModel.read(fixture("bert_tiny.onnx"));
        assertThat(m.producerName()).isEqualTo("pytorch");
        assertThat(m.irVersion()).isEqualTo(8);
        assertThat(m.opsetVersion("")).hasValue(17);
        OnnxGraph g = m.graph();
        assertThat(g.name()).isEqualTo("main_graph");
        assertThat(g.nodes()).hasSize(304);
        assertThat(g.opTypeCounts()).containsEntry("MatMul", 16).containsEntry("LayerNormalization", 5)
                .containsEntry("Softmax", 2).containsEntry("Erf", 2).containsEntry("Gemm", 1).containsEntry("Tanh", 1)
                .containsEntry("Constant", 94).containsEntry("Where", 7).containsEntry("GatherElements", 1)
                .containsEntry("IsNaN", 2).containsEntry("Range", 3).containsEntry("ConstantOfShape", 4);
        assertThat(g.initializers()).hasSize(19);
        assertThat(g.initializers().stream().filter(t -> t.name().startsWith("onnx::MatMul_"))).hasSize(12);
        assertThat(g.initializer("model.embeddings.word_embeddings.weight").orElseThrow().dims()).containsExactly(500, 32);
        assertThat(g.initializer("onnx::MatMul_386").orElseThrow().dims()).containsExactly(32, 64);
        assertThat(g.inputs()).extracting(ValueInfo::name).containsExactly("input_ids", "attention_mask");
        assertThat(g.inputs().get(0).elementType()).isEqualTo(DataType.INT64);
        assertThat(g.inputs().get(0).shape()).containsExactly(Dim.symbolic("batch"), Dim.symbolic("sequence"));
        assertThat(g.outputs()).extracting(ValueInfo::name).containsExactly("last_hidden_state", "pooler_output");
        assertThat(g.outputs().get(0).shape()).hasSize(3).endsWith(Dim.of(32));
        OnnxNode query = g.nodes().stream().filter(n -> n.name().equals("/model/encoder/layer.0/attention/self/query/MatMul"))
                .findFirst().orElseThrow();
        assertThat(query.inputs()).containsExactly("/model/embeddings/LayerNorm/LayerNormalization_output_0", "onnx::MatMul_371");
        OnnxNode gemm = g.nodes("Gemm").get(0);
        assertThat(gemm.attribute("transB").orElseThrow().intValue()).isEqualTo(1);
        // the exporter shares equal-valued parameters and aliases them with Identity nodes
        assertThat(g.initializer("model.pooler.dense.bias")).isEmpty();
        assertThat(g.nodes("Identity")).anySatisfy(n -> assertThat(n.outputs()).containsExactly("model.pooler.dense.bias"));
    }

    @Test
    void vitStructure() {
        OnnxGraph g = OnnxModel.read(fixture("vit_tiny.onnx")).graph();
        assertThat(g.nodes()).hasSize(281);
        assertThat(g.opTypeCounts()).containsEntry("Conv", 1).containsEntry("MatMul", 24)
                .containsEntry("LayerNormalization", 7).containsEntry("Softmax", 3).containsEntry("Erf", 3);
        assertThat(g.initializers()).hasSize(25);
        assertThat(g.initializer("model.embeddings.patch_embeddings.projection.weight").orElseThrow().dims())
                .containsExactly(32, 3, 8, 8);
        assertThat(g.initializer("onnx::MatMul_359")).isPresent();
        OnnxNode conv = g.nodes("Conv").get(0);
        assertThat(conv.attribute("strides").orElseThrow().ints()).containsExactly(8, 8);
        assertThat(conv.attribute("kernel_shape").orElseThrow().ints()).containsExactly(8, 8);
        assertThat(g.inputs().get(0).shape()).containsExactly(Dim.symbolic("batch"), Dim.of(3), Dim.of(32), Dim.of(32));
    }

    @Test
    void rewritesAreByteIdentical() throws Exception {
        for (String name : List.of("bert_tiny.onnx", "vit_tiny.onnx")) {
            byte[] original = Files.readAllBytes(fixture(name));
            assertThat(OnnxModel.parse(original, name).toByteArray()).as(name).isEqualTo(original);
        }
    }

    /** Reference inputs from the fixture's safetensors file, as ORT inputs. */
    static Map<String, Ort.In> referenceInputs(SafetensorsFile ref) {
        Map<String, Ort.In> in = new LinkedHashMap<>();
        for (String n : ref.names()) {
            if (n.startsWith("input.")) {
                long[] shape = ref.shape(n);
                in.put(n.substring(6), ref.dtype(n).isIntegral() ? Ort.In.longs(ref.longs(n), shape) : Ort.In.floats(ref.floats(n), shape));
            }
        }
        return in;
    }

    @Test
    void onnxRuntimeGivesIdenticalOutputsForOriginalsAndRewrites(@TempDir Path dir) {
        for (String model : List.of("bert_tiny", "vit_tiny")) {
            try (SafetensorsFile ref = SafetensorsFile.open(fixture(model + ".reference.safetensors"))) {
                Map<String, Ort.In> inputs = referenceInputs(ref);
                Map<String, Ort.Out> original = Ort.run(fixture(model + ".onnx"), inputs);

                OnnxModel read = OnnxModel.read(fixture(model + ".onnx"));
                Path inline = dir.resolve(model + "/inline/model.onnx");
                read.write(inline);
                Path external = dir.resolve(model + "/external/model.onnx");
                read.write(external, WriteOptions.externalData(256));
                assertThat(external.resolveSibling("model.onnx_data")).exists();

                for (Path rewrite : List.of(inline, external)) {
                    Map<String, Ort.Out> again = Ort.run(rewrite, inputs);
                    assertThat(again.keySet()).containsExactlyElementsOf(original.keySet());
                    for (String out : original.keySet()) {
                        assertThat(again.get(out).shape()).isEqualTo(original.get(out).shape());
                        assertThat(again.get(out).floats()).as(rewrite + " " + out).containsExactly(original.get(out).floats());
                    }
                }
                for (String out : original.keySet()) {
                    assertThat(original.get(out).shape()).isEqualTo(ref.shape("output." + out));
                    assertThat(original.get(out).floats()).as(model + " " + out)
                            .containsExactly(ref.floats("output." + out), within(1e-5f));
                }
            }
        }
    }

    @Test
    void editedGraphsRunToo() {
        // tap an intermediate value (the first attention softmax) and swap a weight: the edits an SDK user makes
        OnnxModel m = OnnxModel.read(fixture("bert_tiny.onnx"));
        OnnxGraph g = m.graph();
        String probs = g.nodes("Softmax").get(0).outputs().get(0);
        List<ValueInfo> outputs = new ArrayList<>(g.outputs());
        outputs.add(ValueInfo.unknownShape(probs, DataType.FLOAT));
        TensorValue emb = g.initializer("model.embeddings.word_embeddings.weight").orElseThrow();
        float[] zeros = new float[(int) emb.elementCount()];
        OnnxModel edited = m.withGraph(g.withOutputs(outputs).withInitializer(TensorValue.ofFloats(emb.name(), zeros, emb.dims())));
        try (SafetensorsFile ref = SafetensorsFile.open(fixture("bert_tiny.reference.safetensors"))) {
            Map<String, Ort.Out> out = Ort.run(edited, referenceInputs(ref));
            Ort.Out p = out.get(probs);
            assertThat(p.shape()).containsExactly(2, 4, 12, 12); // batch, heads, query, key
            for (int row = 0; row < 2 * 4 * 12; row++) {
                double sum = 0;
                for (int k = 0; k < 12; k++) {
                    sum += p.floats()[row * 12 + k];
                }
                assertThat(sum).isCloseTo(1.0, within(1e-5));
            }
            assertThat(out.get("last_hidden_state").floats()).doesNotContain(ref.floats("output.last_hidden_state"));
        }
    }
}
