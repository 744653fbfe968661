package io.senseflow.onnx.arch;

import io.senseflow.train.ParameterSpec;
import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.WriteOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example of docs/onnx.md, "Architecture builders", as written there. */
class DocsExampleTest {
    @Test
    void architectureBuildersExample(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("transformer"));

        FlowTransformer.Config cfg = FlowTransformer.Config.builder()
                .latentChannels(4).latentSize(8, 8).patchSize(2)
                .width(128).depth(4).heads(4)
                .textWidth(128).textLength(16).pooledWidth(128).mlpRatio(4)
                .build();
        OnnxModel transformer = FlowTransformer.build(cfg, 42);
        transformer.write(dir.resolve("transformer/model.onnx"), WriteOptions.externalData(1024));
        List<ParameterSpec> params = FlowTransformer.parameters(cfg);

        OnnxModel textEncoder = TextTransformer.build(TextTransformer.Config.defaults(), 42);
        Autoencoder.Config vae = Autoencoder.Config.defaults();
        OnnxModel vaeEncoder = Autoencoder.buildEncoder(vae, 42);
        OnnxModel vaeDecoder = Autoencoder.buildDecoder(vae, 42);

        OnnxModel read = OnnxModel.read(dir.resolve("transformer/model.onnx"));
        FlowTransformer.Config again = FlowTransformer.Config.fromMetadata(read);

        assertThat(again).isEqualTo(cfg).isEqualTo(FlowTransformer.Config.defaults());
        assertThat(Files.exists(dir.resolve("transformer/model.onnx_data"))).isTrue();
        assertThat(ParameterSpec.totalSize(params)).isEqualTo(2_298_640L);
        assertThat(read.graph().initializers()).hasSameSizeAs(params);
        assertThat(TextTransformer.Config.fromMetadata(textEncoder)).isEqualTo(TextTransformer.Config.defaults());
        assertThat(Autoencoder.partOf(vaeEncoder)).isEqualTo(Autoencoder.Part.ENCODER);
        assertThat(Autoencoder.partOf(vaeDecoder)).isEqualTo(Autoencoder.Part.DECODER);
    }
}
