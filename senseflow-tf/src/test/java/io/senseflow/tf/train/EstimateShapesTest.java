package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.ir.OnnxModel;
import org.junit.jupiter.api.Test;

/**
 * The memory estimate of a graph whose sizes are symbolic (the shared SDXL UNet: batch, height, width and sequence
 * length): without shapes its activations cannot be counted; with estimate-only shapes they are, and they grow with
 * the latent size — the modules themselves still import at their call shapes.
 */
class EstimateShapesTest {
    private static final OnnxModel UNET = OnnxModel.read(Fixtures.path("optimum-exports/sdxl/onnx/unet/model.onnx"));

    private static StudentModules.Builder builder(int latent) {
        StudentModules.Builder b = StudentModules.builder(UNET, DenoiserSpec.sdxl()).batchSize(2);
        return latent == 0 ? b : b.estimateShape("sample", -1, 4, latent, latent)
                .estimateShape("encoder_hidden_states", -1, 7, 64).estimateShape("text_embeds", -1, 40)
                .estimateShape("time_ids", -1, 6).estimateShape("no_such_input", -1, 3);
    }

    /** The estimate's peak-activation line (the largest pass, with its gradients when it has a backward). */
    private static long activations(MemoryEstimate e) {
        return e.items().stream().filter(i -> i.what().startsWith("peak activations"))
                .mapToLong(MemoryEstimate.Item::bytes).sum();
    }

    @Test
    void symbolicSizesAreCountedWithEstimateShapes() {
        MemoryEstimate none = builder(0).estimate();
        assertThat(none.table()).contains("not counted: the graph's sizes are symbolic");
        // without shapes the line holds only the gradients of the 466,220 parameters
        assertThat(activations(none)).isEqualTo(466_220L * 4);

        MemoryEstimate small = builder(8).estimate();
        MemoryEstimate large = builder(24).estimate();
        assertThat(small.table()).doesNotContain("not counted");
        assertThat(activations(small)).as(small.table()).isGreaterThan(activations(none));
        // 9x the latent positions: the UNet's activations grow with them (not exactly 9x: text and time parts do not)
        assertThat(activations(large)).isGreaterThan(4 * activations(small));
        assertThat(large.deviceBytes()).isGreaterThan(small.deviceBytes());
    }
}
