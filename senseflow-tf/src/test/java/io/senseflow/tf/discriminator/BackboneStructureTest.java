package io.senseflow.tf.discriminator;

import io.senseflow.fixtures.Fixtures;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Tap resolution on graphs written by PyTorch, by {@code GraphBuilder}, and by the SDK's flow transformer. */
class BackboneStructureTest {
    static final Path VIT = Fixtures.path("torch-exports/vit_tiny.onnx");

    static OnnxNode producer(OnnxModel m, String value) {
        return m.graph().nodes().stream().filter(n -> n.outputs().contains(value)).findFirst().orElseThrow();
    }

    @Test
    void pyTorchVitBlocksResolveToTheirLastResidualAdd() {
        OnnxModel vit = OnnxModel.read(VIT);
        BackboneStructure s = BackboneStructure.of(vit);
        assertThat(s.blockCount()).isEqualTo(3);
        assertThat(s.blockStack()).isEqualTo("/model/layers");
        assertThat(s.patchSize()).contains(new BackboneStructure.PatchSize(8, 8));
        for (int k = 0; k < 3; k++) {
            String v = s.resolve(Tap.afterBlock(k));
            OnnxNode n = producer(vit, v);
            assertThat(n.opType()).isEqualTo("Add");
            assertThat(n.name()).isEqualTo("/model/layers." + k + "/Add_1");
        }
        assertThat(s.resolve(Tap.afterBlock(-1))).isEqualTo(s.resolve(Tap.afterBlock(2)));
        assertThat(producer(vit, s.resolve(Tap.patchEmbedding())).opType()).isEqualTo("Conv");
        // a node name resolves to its output, a value name to itself
        assertThat(s.resolve(Tap.named("/model/layers.1/Add"))).isEqualTo("/model/layers.1/Add_output_0");
        assertThat(s.resolve(Tap.named("/model/layers.1/Add_output_0"))).isEqualTo("/model/layers.1/Add_output_0");
    }

    @Test
    void graphBuilderVitResolvesLikeTheExport() {
        OnnxModel vit = TinyVit.build(16, 4, 16, 3, 2, 0, 1);
        BackboneStructure s = BackboneStructure.of(vit);
        assertThat(s.blockCount()).isEqualTo(3);
        assertThat(s.blockStack()).isEqualTo("/blocks");
        assertThat(s.patchSize()).contains(new BackboneStructure.PatchSize(4, 4));
        String b0 = s.resolve(Tap.afterBlock(0));
        OnnxNode add = producer(vit, b0);
        assertThat(add.opType()).isEqualTo("Add");
        // the block output is the sum whose operand is the first residual sum of the same block
        OnnxNode first = producer(vit, add.inputs().get(0));
        assertThat(first.opType()).isEqualTo("Add");
        assertThat(first.name()).startsWith("/blocks.0/");
        // and it is what block 1 reads
        String b1 = s.resolve(Tap.afterBlock(1));
        assertThat(producer(vit, producer(vit, b1).inputs().get(0)).inputs()).contains(b0);
    }

    @Test
    void flowTransformerBlocksResolveToTheImageStream() {
        FlowTransformer.Config c = FlowTransformer.Config.builder().latentChannels(4).latentSize(8, 8).patchSize(2)
                .width(32).depth(3).heads(2).textWidth(16).textLength(16).pooledWidth(8).mlpRatio(2).build();
        OnnxModel ft = FlowTransformer.build(c, 3);
        BackboneStructure s = BackboneStructure.of(ft);
        assertThat(s.blockCount()).isEqualTo(3);
        assertThat(s.blockStack()).endsWith("transformer_blocks");
        assertThat(s.patchSize()).contains(new BackboneStructure.PatchSize(2, 2));
        // the image stream of the last block is what the output head (norm_out) reads
        String last = s.resolve(Tap.afterBlock(2));
        boolean readByNormOut = ft.graph().nodes().stream()
                .anyMatch(n -> n.inputs().contains(last) && n.name().contains("norm_out"));
        assertThat(readByNormOut).as(last + " read by norm_out").isTrue();
        // the image stream of a middle block enters the next block's residual sum
        String mid = s.resolve(Tap.afterBlock(1));
        boolean residual = ft.graph().nodes().stream().anyMatch(n -> n.opType().equals("Add")
                && n.inputs().contains(mid) && n.name().contains("transformer_blocks.2"));
        assertThat(residual).isTrue();
    }

    @Test
    void unknownNamesListTheClosestAndBadIndicesNameTheRange() {
        OnnxModel vit = TinyVit.build(16, 4, 16, 3, 2, 0, 1);
        BackboneStructure s = BackboneStructure.of(vit);
        assertThatThrownBy(() -> s.resolve(Tap.named("/blocks.1/Add_2")))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("tap '/blocks.1/Add_2'").hasMessageContaining("closest")
                .hasMessageContaining("/blocks.1/Add_1");
        assertThatThrownBy(() -> s.resolve(Tap.afterBlock(3))).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("[0, 3)").hasMessageContaining("got 3");
        assertThatThrownBy(() -> s.resolve(Tap.named("blocks.0.attn.q.weight")))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("initializer");
        assertThat(BackboneStructure.editDistance("kitten", "sitting")).isEqualTo(3);
        List<String> near = s.nearest("/blocks.2/add_1", 3);
        assertThat(near.get(0)).isEqualTo("/blocks.2/Add_1");
    }
}
