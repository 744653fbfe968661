package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.train.MemoryEstimate.Precision;
import org.junit.jupiter.api.Test;

/** The memory model's arithmetic: persistent items add up, of the transient phases only the largest counts. */
class MemoryEstimateTest {
    static final long P = 3_000_017;
    static final long A = 80_000_021;

    @Test
    void theLargestTransientPhaseCountsOnTopOfThePersistentItems() {
        // activations dominate: 16 P + 0.45 A + 4 P
        MemoryEstimate big = MemoryEstimate.builder().runtimeOverhead(false).trainable("g", P, 0)
                .pass("g", A, true).pass("teacher", A / 100, false).build();
        assertThat(big.deviceBytes()).isEqualTo(16 * P + Math.round(MemoryEstimate.BACKWARD_KEPT_FRACTION * A) + 4 * P);
        // the optimizer step dominates: 16 P + 12 P
        MemoryEstimate small = MemoryEstimate.builder().runtimeOverhead(false).trainable("g", P, 0)
                .pass("g", A / 100, true).build();
        assertThat(small.deviceBytes()).isEqualTo(28 * P);
        assertThat(small.table()).contains("AdamW step");
        // a forward-only pass counts its whole forward, no gradients
        MemoryEstimate fwd = MemoryEstimate.builder().runtimeOverhead(false).frozen("t", P, false).pass("t", A, false)
                .build();
        assertThat(fwd.deviceBytes()).isEqualTo(4 * P + A);
        assertThat(MemoryEstimate.builder().trainable("g", P, 0).build().deviceBytes())
                .isEqualTo(28 * P + MemoryEstimate.RUNTIME_OVERHEAD_BYTES);
    }

    @Test
    void aLoraRunHoldsTheBaseOnceAndTrainsOnlyTheAdapters() {
        long base = 2_500_000_000L;
        long adapters = 42_467_328L;
        MemoryEstimate lora = MemoryEstimate.builder().runtimeOverhead(false)
                .lora("SD3.5 Medium", base, Precision.BFLOAT16, adapters, "generator", "fake score")
                .heldActivations("generator", 1_000_000, true).build();
        // base in bfloat16 once, two adapter sets at 16 B, the larger of (activations + adapter gradients) and the
        // adapters' AdamW step
        assertThat(lora.deviceBytes()).isEqualTo(2 * base + 2 * 16 * adapters + Math.max(1_000_000 + 4 * adapters,
                12 * adapters));
        assertThat(lora.items()).filteredOn(i -> i.what().contains("trainable")).hasSize(2);
        assertThat(lora.heapBytes()).isEqualTo(2 * 2 * 12 * adapters); // checkpoints hold adapters and moments only
        MemoryEstimate full = MemoryEstimate.builder().runtimeOverhead(false).trainable("generator", base, 0)
                .trainable("fake score", base, 0).frozen("teacher", base, false, Precision.BFLOAT16)
                .heldActivations("generator", 1_000_000, true).build();
        assertThat(full.deviceBytes()).isEqualTo(32 * base + 2 * base + 12 * base);
        assertThatThrownBy(() -> MemoryEstimate.builder().lora("b", base, Precision.FLOAT32, adapters))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("adapter set");
    }

    @Test
    void theTransformerFormulaBoundsTheGraphCountOfTheInHouseTransformer() {
        // non-power-of-two sizes: width 96, 3 blocks, 3 heads, 12 x 12 latents (36 image tokens) + 20 text tokens
        FlowTransformer.Config cfg = FlowTransformer.Config.builder().latentChannels(4).latentSize(12, 12).patchSize(2)
                .width(96).depth(3).heads(3).textWidth(40).textLength(20).pooledWidth(40).mlpRatio(4).build();
        OnnxModel model = FlowTransformer.build(cfg, 1);
        long graph = GraphActivations.of(model, DenoiserSpec.batchShapes(model, 3,
                ImportOptions.builder().frozen().build())).bytes();
        TransformerActivations formula = new TransformerActivations(96, 3, 3, TransformerActivations.tokens(12, 2, 20),
                Precision.FLOAT32);
        double ratio = 3.0 * formula.forwardBytes() / graph;
        System.out.printf("formula / graph count: %.3f (graph %,d B at batch 3)%n", ratio, graph);
        assertThat(ratio).isBetween(1.0, 1.15);
        assertThat(formula.heldBytes(3, false)).isEqualTo(3 * Math.round(TransformerActivations.KEPT_FRACTION * formula.forwardBytes()));
        assertThat(formula.heldBytes(1, true)).isLessThan(formula.heldBytes(1, false));
        TransformerActivations half = new TransformerActivations(96, 3, 3, formula.tokens(), Precision.BFLOAT16);
        assertThat(half.forwardBytes() * 2).isBetween(formula.forwardBytes() - 1, formula.forwardBytes() + 1);
    }

    @Test
    void aBackwardPassIsCountedOnItsGradientGraphAndGraphsByTheirOperations() {
        // non-power-of-two sizes: width 80, 2 blocks, 10 x 10 latents (25 image tokens) + 12 text tokens
        FlowTransformer.Config cfg = FlowTransformer.Config.builder().latentChannels(4).latentSize(10, 10).patchSize(2)
                .width(80).depth(2).heads(2).textWidth(24).textLength(12).pooledWidth(24).mlpRatio(4).build();
        OnnxModel model = FlowTransformer.build(cfg, 1);
        GraphActivations.Backward b1 = GraphActivations.backward(model, DenoiserSpec.batchShapes(model, 1,
                ImportOptions.defaults()));
        GraphActivations.Backward b3 = GraphActivations.backward(model, DenoiserSpec.batchShapes(model, 3,
                ImportOptions.defaults()));
        GraphActivations.Backward frozen = GraphActivations.backward(model, DenoiserSpec.batchShapes(model, 3,
                ImportOptions.builder().frozen().build()));
        System.out.printf("kept %,d of %,d B at batch 3 (%.2f), ops %,d -> %,d; frozen, input gradients: kept %,d B%n",
                b3.keptBytes(), b3.forwardBytes(), b3.keptBytes() / (double) b3.forwardBytes(), b3.forwardOps(),
                b3.totalOps(), frozen.keptBytes());
        // the forward count is GraphActivations.of's; the gradient ops read a strict part of it, more than a tenth
        assertThat(b3.forwardBytes()).isEqualTo(GraphActivations.of(model, DenoiserSpec.batchShapes(model, 3,
                ImportOptions.defaults())).bytes());
        assertThat(b3.keptBytes()).isGreaterThan(b3.forwardBytes() / 10).isLessThan(b3.forwardBytes());
        // frozen weights folded at import: what is kept is per sample, three samples keep three times as much; with
        // trainable weights their per-run intermediates (e.g. transposed weight reads) are kept once per pass
        GraphActivations.Backward frozen1 = GraphActivations.backward(model, DenoiserSpec.batchShapes(model, 1,
                ImportOptions.builder().frozen().build()));
        assertThat((double) frozen.keptBytes() / frozen1.keptBytes()).isBetween(2.8, 3.0);
        assertThat(b3.keptBytes()).isGreaterThan(b1.keptBytes()).isLessThan(3 * b1.keptBytes());
        assertThat(b3.totalOps()).isGreaterThan(2 * b3.forwardOps());
        // gradients with respect to the inputs only need no more than those with respect to every weight as well
        assertThat(frozen.keptBytes()).isPositive().isLessThanOrEqualTo(b3.keptBytes());
        MemoryEstimate e = MemoryEstimate.builder().runtimeOverhead(false).trainable("g", P, 0)
                .graphs("g", b3.totalOps(), 2).backwardPass("g", b3).build();
        assertThat(e.deviceBytes()).isEqualTo(16 * P + 2 * (b3.totalOps() * MemoryEstimate.GRAPH_BYTES_PER_OP
                + MemoryEstimate.GRAPH_BYTES_PER_IMPORT) + Math.max(b3.keptBytes(), 12 * P));
    }
}
