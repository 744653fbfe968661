package io.senseflow.onnx.arch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The initialisation scheme is part of a model's provenance: pinned here so it cannot drift silently. */
class ParamsTest {
    @Test
    void parameterKeysAreFnv1a64OfTheName() {
        assertThat(Params.nameKey("")).isEqualTo(0xcbf29ce484222325L);
        assertThat(Params.nameKey("a")).isEqualTo(0xaf63dc4c8601ec8cL);
    }

    @Test
    void valuesArePinnedForASeed() {
        OnnxModel m = FlowTransformer.build(FlowTransformerTest.SMALL, 42);
        float[] w = m.graph().initializer("transformer_blocks.0.attn.to_q.weight").orElseThrow().toFloats();
        assertThat(Arrays.copyOf(w, 4)).containsExactly(0.17792392f, 0.02136333f, -0.2774581f, -0.20960209f);
        // by definition: element i of noise stream INIT_STREAM of sample fnv1a64(name), times 1/sqrt(fanIn)
        float[] z = new float[w.length];
        GaussianNoise.fill(42, Params.nameKey("transformer_blocks.0.attn.to_q.weight"), Params.INIT_STREAM, z, 0, z.length);
        for (int i = 0; i < w.length; i++) {
            assertThat(w[i]).isEqualTo((float) (z[i] / Math.sqrt(32)));
        }
        double sumSq = 0;
        for (float v : w) {
            sumSq += v * v;
        }
        assertThat(Math.sqrt(sumSq / w.length)).as("std of N(0, 1/fanIn), fanIn 32").isBetween(0.16, 0.19);
    }

    @Test
    void randomAllChangesOnlyTheParametersThatAreZeroOrOneOtherwise() {
        OnnxModel def = FlowTransformer.build(FlowTransformerTest.SMALL, 42, Init.DEFAULT);
        OnnxModel all = FlowTransformer.build(FlowTransformerTest.SMALL, 42, Init.RANDOM_ALL);
        for (TensorValue t : def.graph().initializers()) {
            TensorValue r = all.graph().initializer(t.name()).orElseThrow();
            boolean special = t.name().endsWith(".bias") || t.name().equals("pos_embed.pos_embed")
                    || t.name().matches(".*norm1(_context)?\\.linear\\.weight|norm_out\\.linear\\.weight|proj_out\\.weight");
            if (special) {
                assertThat(r).as(t.name()).isNotEqualTo(t);
            } else {
                assertThat(r).as(t.name()).isEqualTo(t);
            }
        }
    }

    @Test
    void parameterListingAllocatesNothingAndOversizedParametersAreRefused() {
        FlowTransformer.Config huge = FlowTransformerTest.SMALL.toBuilder().textWidth(1 << 26).build();
        assertThat(FlowTransformer.parameterCount(huge)).isGreaterThan(1L << 31);
        assertThatThrownBy(() -> FlowTransformer.build(huge, 1))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessageStartingWith("parameter context_embedder.weight: expected fewer than 2^31 elements, got");
    }
}
