package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import org.junit.jupiter.api.Test;

/** Which initializers of an exported graph were buffers of the source model. */
class ModelBuffersTest {
    static OnnxModel graph(String path) {
        return OnnxModel.read(Fixtures.path("optimum-exports/" + path).resolve("model.onnx"));
    }

    @Test
    void theSd3PositionTableIsTheOnlyBufferOfTheSharedDenoisers() {
        assertThat(ModelBuffers.of(graph("sd3/onnx/transformer"))).containsOnlyKeys("onnx::Slice_1139")
                .containsValue("a fixed sin-cos table [1, 24, 24, 36]");
        assertThat(ModelBuffers.of(graph("flux_dev/onnx/transformer"))).isEmpty();
        assertThat(ModelBuffers.of(graph("sdxl/onnx/unet"))).isEmpty();
        assertThat(ModelBuffers.of(graph("sdxl/onnx/vae_decoder"))).isEmpty();
    }

    @Test
    void aSinCosTableIsRecognisedAndNearMissesAreNot() {
        int n = 12;
        int d = 8;
        float[] table = new float[n * d];
        for (int p = 0; p < n; p++) {
            for (int k = 0; k < d / 2; k++) {
                double w = Math.pow(10000, -2.0 * k / d);
                table[p * d + k] = (float) Math.sin(p * w);
                table[p * d + d / 2 + k] = (float) Math.cos(p * w);
            }
        }
        assertThat(ModelBuffers.isSinCosTable(TensorValue.ofFloats("t", table, 1, n, d))).isTrue();
        float[] trained = table.clone();
        trained[5 * d + 2] += 0.01f; // one value moved by training
        assertThat(ModelBuffers.isSinCosTable(TensorValue.ofFloats("t", trained, 1, n, d))).isFalse();
        float[] ones = new float[n * d];
        java.util.Arrays.fill(ones, 1f);
        assertThat(ModelBuffers.isSinCosTable(TensorValue.ofFloats("t", ones, n, d))).isFalse();
        float[] small = new float[n * d];
        for (int i = 0; i < small.length; i++) {
            small[i] = (float) Math.sin(i * 0.37) * 0.02f;
        }
        assertThat(ModelBuffers.isSinCosTable(TensorValue.ofFloats("w", small, n, d))).isFalse();
    }

    @Test
    void theSdksOwnGraphsHaveNoBuffersTheirTableIsAParameter() {
        OnnxModel inHouse = FlowTransformer.build(FlowTransformer.Config.defaults(), 7);
        assertThat(inHouse.graph().initializer("pos_embed.pos_embed")).isPresent();
        assertThat(ModelBuffers.of(inHouse)).isEmpty();
        assertThat(ModelBuffers.of(inHouse.withMetadata(java.util.Map.of()))).containsKey("pos_embed.pos_embed");
    }
}
