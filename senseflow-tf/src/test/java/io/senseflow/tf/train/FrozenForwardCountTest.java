package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.lora.LoraConfig;
import io.senseflow.tf.lora.LoraGraph;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The memory estimate imports a student once, trainable, and takes the frozen teacher's pass from that import
 * ({@link GraphActivations.Backward#frozenForwardBytes}): on the three shared Optimum denoisers, at the LoRA tests'
 * shapes, with every weight trainable and with only LoRA adapters trainable, it equals what a separate frozen import
 * counts ({@link GraphActivations#of}), byte for byte; and on the in-house transformer, whose graph reads every
 * weight through a {@code Transpose} node (folded by a frozen import, imported as ops by a trainable one). SD3 has
 * both kinds of difference between the imports: a slice of its position table whose bounds come from a static
 * {@code Shape}, constant in both imports but computed from a variable in the trainable one.
 */
class FrozenForwardCountTest {
    private static ImportOptions shapes(String family, ImportOptions base) {
        ImportOptions.Builder b = base.toBuilder();
        Map<String, long[]> dims = switch (family) {
            case "sd3" -> Map.of("hidden_states", new long[] {1, 16, 8, 8}, "encoder_hidden_states",
                    new long[] {1, 7, 80}, "pooled_projections", new long[] {1, 64}, "timestep", new long[] {1});
            case "flux_dev" -> Map.of("hidden_states", new long[] {1, 16, 64}, "encoder_hidden_states",
                    new long[] {1, 5, 48}, "pooled_projections", new long[] {1, 24}, "img_ids", new long[] {16, 3},
                    "txt_ids", new long[] {5, 3}, "timestep", new long[] {1}, "guidance", new long[] {1});
            default -> Map.of("sample", new long[] {1, 4, 8, 8}, "encoder_hidden_states", new long[] {1, 7, 64},
                    "text_embeds", new long[] {1, 40}, "time_ids", new long[] {1, 6}, "timestep", new long[] {});
        };
        dims.forEach(b::inputShape);
        return b.build();
    }

    private static void check(String family, String component) {
        OnnxModel model = OnnxModel.read(Fixtures.path("optimum-exports/" + family + "/onnx/" + component
                + "/model.onnx"));
        long frozen = GraphActivations.of(model, shapes(family, ImportOptions.builder().frozen().build())).bytes();
        GraphActivations.Backward all = GraphActivations.backward(model, shapes(family, ImportOptions.defaults()));
        LoraGraph lora = LoraGraph.of(model, LoraConfig.rank(3).alpha(6).build(), 11);
        long loraFrozen = GraphActivations.of(lora.model(), shapes(family, ImportOptions.builder().frozen().build()))
                .bytes();
        GraphActivations.Backward adapters = GraphActivations.backward(lora.model(), shapes(family,
                ImportOptions.builder().frozen().build().toBuilder().trainable(lora.adapterNames()::contains,
                        "adapters").build()));
        System.out.printf("%s: frozen import %,d B; trainable import %,d B forward, %,d B frozen part; LoRA frozen"
                + " %,d B, adapters trainable %,d B forward, %,d B frozen part%n", family, frozen, all.forwardBytes(),
                all.frozenForwardBytes(), loraFrozen, adapters.forwardBytes(), adapters.frozenForwardBytes());
        assertThat(all.frozenForwardBytes()).as(family).isEqualTo(frozen);
        assertThat(adapters.frozenForwardBytes()).as(family + " LoRA").isEqualTo(loraFrozen);
    }

    @Test
    void inHouseTransformer() {
        // non-power-of-two sizes: width 80, 2 blocks, 10 x 10 latents
        io.senseflow.onnx.arch.FlowTransformer.Config cfg = io.senseflow.onnx.arch.FlowTransformer.Config.builder()
                .latentChannels(4).latentSize(10, 10).patchSize(2).width(80).depth(2).heads(2).textWidth(24)
                .textLength(12).pooledWidth(24).mlpRatio(4).build();
        OnnxModel model = io.senseflow.onnx.arch.FlowTransformer.build(cfg, 1);
        long frozen = GraphActivations.of(model, DenoiserSpec.batchShapes(model, 3, ImportOptions.builder().frozen()
                .build())).bytes();
        GraphActivations.Backward all = GraphActivations.backward(model, DenoiserSpec.batchShapes(model, 3,
                ImportOptions.defaults()));
        System.out.printf("in-house: frozen import %,d B; trainable import %,d B forward, %,d B frozen part%n", frozen,
                all.forwardBytes(), all.frozenForwardBytes());
        assertThat(all.forwardBytes()).isGreaterThan(frozen);
        assertThat(all.frozenForwardBytes()).isEqualTo(frozen);
    }

    @Test
    void sd3() {
        check("sd3", "transformer");
    }

    /**
     * FLUX.1-dev's transformer: 9-26 s at load ~12 (its import is the slowest of the three); the same check as the
     * others, run with {@code -Dexcluded.groups= -Dgroups=experiment}.
     */
    @Test
    @org.junit.jupiter.api.Tag("experiment")
    void fluxDev() {
        check("flux_dev", "transformer");
    }

    /** SDXL's UNet: 16 s at load ~12; run with {@code -Dexcluded.groups= -Dgroups=experiment}. */
    @Test
    @org.junit.jupiter.api.Tag("experiment")
    void sdxl() {
        check("sdxl", "unet");
    }
}
