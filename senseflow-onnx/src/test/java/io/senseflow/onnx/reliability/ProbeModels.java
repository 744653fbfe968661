package io.senseflow.onnx.reliability;

import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.folders.SchedulerSpec;
import io.senseflow.onnx.folders.SenseFlowFolder;
import io.senseflow.onnx.testing.FixtureTokenizer;
import io.senseflow.onnx.testing.TinyModelFolders;
import java.nio.file.Path;

/**
 * A SenseFlow folder larger than {@link TinyModelFolders#senseflow}: 64 x 64 images from 16 x 16 x 4 latents (a
 * 64-token transformer of width 64 and depth 2), so every generation moves tens of kilobytes through each session and
 * a leak of any per-run native buffer would show in the resident memory within a few hundred generations.
 */
final class ProbeModels {
    private ProbeModels() {
    }

    static Path medium(Path dir) {
        FlowTransformer.Config transformer = FlowTransformer.Config.builder().latentChannels(4).latentSize(16, 16).patchSize(2)
                .width(64).depth(2).heads(4).textWidth(32).textLength(8).pooledWidth(32).mlpRatio(2).build();
        Autoencoder.Config vae = Autoencoder.Config.builder().imageSize(64, 64).latentChannels(4).channels(8, 8, 8).groups(4)
                .scalingFactor(1.25).shiftFactor(0.1).build();
        SenseFlowFolder.builder()
                .name("probe-senseflow")
                .transformer(FlowTransformer.build(transformer, 7, Init.RANDOM_ALL))
                .textEncoder(TextTransformer.build(TinyModelFolders.inHouseText(), 8, Init.RANDOM_ALL))
                .vaeDecoder(Autoencoder.build(vae, Autoencoder.Part.DECODER, 9, Init.RANDOM_ALL))
                .tokenizer(FixtureTokenizer.json(FixtureTokenizer.Style.CLIP), "<|endoftext|>")
                .scheduler(SchedulerSpec.fewStep(1, 0.75, 0.5))
                .provenance("made_by", ProbeModels.class.getName())
                .build()
                .write(dir);
        return dir;
    }
}
