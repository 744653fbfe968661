package io.senseflow.onnx.folders;

import static io.senseflow.onnx.folders.LayoutPipelineTest.CPU1;
import static io.senseflow.onnx.folders.LayoutPipelineTest.OPTIONS;
import static io.senseflow.onnx.folders.LayoutPipelineTest.relDiff;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.model.LatentFormat;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.NoiseKey;
import io.senseflow.noise.Streams;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.runtime.OrtInputs;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.onnx.testing.Fixture;
import io.senseflow.onnx.testing.FixtureTokenizer;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The SDK's own layout: written by {@link SenseFlowFolder}, read by {@link Models#load}, run end to end. */
class SenseFlowLayoutTest {
    @TempDir
    Path dir;

    /** The pipeline by hand: the three graphs run one by one in ONNX Runtime with the few-step loop in Java. */
    static Tensor[] byHand(Path folder, String prompt, long seed, double[] anchors) {
        try (OrtRuntime ort = OrtRuntime.create(CPU1);
             OrtModel text = ort.load(folder.resolve("text_encoder/model.onnx"));
             OrtModel transformer = ort.load(folder.resolve("transformer/model.onnx"));
             OrtModel decoder = ort.load(folder.resolve("vae_decoder/model.onnx"))) {
            long[] ids = FixtureTokenizer.ids(FixtureTokenizer.Style.CLIP, prompt, 8, 1);
            int real = Math.min(8, prompt.isBlank() ? 2 : prompt.trim().split("\\s+").length + 2);
            long[] mask = new long[8];
            java.util.Arrays.fill(mask, 0, real, 1);
            Map<String, Tensor> enc = text.run(OrtInputs.create().putIds("input_ids", ids, 1, 8).putIds("attention_mask", mask, 1, 8),
                    List.of("last_hidden_state", "pooler_output"));
            NoiseKey[] keys = {new NoiseKey(seed, 0)};
            int[] shape = {1, 4, 4, 4};
            Tensor x = GaussianNoise.sample(keys, Streams.INITIAL_NOISE, shape);
            for (int k = 0; k < anchors.length; k++) {
                Tensor v = transformer.runSingle(OrtInputs.create().put("hidden_states", x)
                        .put("encoder_hidden_states", enc.get("last_hidden_state")).put("pooled_projections", enc.get("pooler_output"))
                        .put("timestep", Tensor.vector((float) anchors[k])), "out_hidden_states");
                Tensor x0 = x.addScaled((float) -anchors[k], v);
                x = k + 1 == anchors.length ? x0 : Tensor.combine((float) (1 - anchors[k + 1]), x0, (float) anchors[k + 1],
                        GaussianNoise.sample(keys, Streams.stepNoise(k), shape));
            }
            float inv = 1f / 1.25f;
            Tensor image = decoder.runSingle(OrtInputs.create().put("latent", x.map(v -> v * inv + 0.1f)), "sample");
            return new Tensor[] {x, image};
        }
    }

    @Test
    void writesLoadsAndRunsTheInHouseModel() {
        Fixture f = TinyModelFolders.senseflow(dir.resolve("tiny"), 42);
        assertThat(Models.detectFamily(f.dir())).isEqualTo(ModelFamily.SENSEFLOW);
        try (LoadedModel m = Models.load(f.dir(), OPTIONS)) {
            assertThat(m.family()).isEqualTo(ModelFamily.SENSEFLOW);
            assertThat(m.senseflowCheckpoint()).isTrue();
            assertThat(m.name()).isEqualTo("tiny-senseflow");
            assertThat(m.guidanceMode()).isEqualTo(GuidanceMode.NONE);
            assertThat(m.scheduler()).isEqualTo(FewStepScheduler.of(1, 0.75, 0.5));
            assertThat(m.latentFormat()).isEqualTo(new LatentFormat(4, 4, 2));
            assertThat(m.defaults().steps()).isEqualTo(3);
            assertThat(m.defaults().width()).isEqualTo(16);
            assertThat(m.imageEncoder()).isPresent();
            GenerationRequest r = GenerationRequest.builder().prompt("a red fox").seed(9).build();
            GenerationResult out = m.pipeline().generate(r);
            Tensor[] expected = byHand(f.dir(), "a red fox", 9, new double[] {1, 0.75, 0.5});
            assertThat(relDiff(out.latents(), expected[0])).isLessThan(1e-5f);
            assertThat(out.latents().maxAbs()).isGreaterThan(0.1f);
            assertThat(relDiff(m.decoder().decode(out.latents()), expected[1])).isLessThan(1e-5f);
            assertThat(m.pipeline().generate(r).latents()).isEqualTo(out.latents());
            assertThat(m.imageEncoder().get().encode(m.decoder().decode(out.latents())).shape()).containsExactly(1, 4, 4, 4);
            // the graphs are built for 16 x 16 images
            assertThatThrownBy(() -> m.pipeline().generate(r.toBuilder().width(32).build()))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("width: expected 16 (transformer/model.onnx is built for 16 x 16 images), got 32");
        }
    }

    @Test
    void componentWeightsReplaceTheGraphsInitializers() throws IOException {
        // the student's graph as initialised (adaLN-Zero: it outputs 0), its trained weights in weights.safetensors
        OnnxModel trained = FlowTransformer.build(TinyModelFolders.inHouseTransformer(), 7, Init.RANDOM_ALL);
        SafetensorsWriter w = new SafetensorsWriter();
        for (TensorValue t : trained.graph().initializers()) {
            w.addFloats(t.name(), t.toFloats(), t.dims());
        }
        Path weights = dir.resolve("student.safetensors");
        w.write(weights);
        Path plain = writeInHouse(dir.resolve("plain"), trained, null);
        Path split = writeInHouse(dir.resolve("split"), FlowTransformer.build(TinyModelFolders.inHouseTransformer(), 7, Init.DEFAULT),
                weights);
        assertThat(split.resolve("transformer/weights.safetensors")).exists();
        GenerationRequest r = GenerationRequest.builder().prompt("a cat").seed(1).build();
        try (LoadedModel a = Models.load(plain, OPTIONS); LoadedModel b = Models.load(split, OPTIONS)) {
            Tensor la = a.pipeline().generate(r).latents();
            assertThat(relDiff(b.pipeline().generate(r).latents(), la)).isLessThan(1e-6f);
        }
        // without the weights file the same graph gives the untrained model's (different) result
        Files.delete(split.resolve("transformer/weights.safetensors"));
        try (LoadedModel a = Models.load(plain, OPTIONS); LoadedModel b = Models.load(split, OPTIONS)) {
            assertThat(relDiff(b.pipeline().generate(r).latents(), a.pipeline().generate(r).latents())).isGreaterThan(1e-2f);
        }
    }

    static Path writeInHouse(Path target, OnnxModel transformer, Path weights) {
        SenseFlowFolder.Builder b = SenseFlowFolder.builder()
                .transformer(transformer)
                .textEncoder(TextTransformer.build(TinyModelFolders.inHouseText(), 8, Init.RANDOM_ALL))
                .vaeDecoder(Autoencoder.build(TinyModelFolders.inHouseVae(), Autoencoder.Part.DECODER, 9, Init.RANDOM_ALL))
                .tokenizer(FixtureTokenizer.json(FixtureTokenizer.Style.CLIP), "<|endoftext|>")
                .scheduler(SchedulerSpec.flowMatchEuler(3.0));
        if (weights != null) {
            b.weights("transformer", weights);
        }
        return b.build().write(target);
    }

    @Test
    void writerChecksComponentsAndReplacesAtomically() throws IOException {
        OnnxModel wide = FlowTransformer.build(TinyModelFolders.inHouseTransformer().toBuilder().latentChannels(8).build(), 1);
        assertThatThrownBy(() -> writeInHouse(dir.resolve("bad"), wide, null))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("transformer/model.onnx expects 8 latent channels, got 4 from vae_decoder/model.onnx");
        assertThat(dir.resolve("bad")).doesNotExist();

        OnnxModel t = FlowTransformer.build(TinyModelFolders.inHouseTransformer(), 1);
        Path target = writeInHouse(dir.resolve("model"), t, null);
        String index = Files.readString(target.resolve("model_index.json"));
        assertThat(index).contains("\"family\": \"senseflow\"").contains("\"type\": \"flow_match_euler\"");
        try (LoadedModel m = Models.load(target, OPTIONS)) {
            assertThat(m.senseflowCheckpoint()).isFalse();
            assertThat(m.guidanceMode()).isEqualTo(GuidanceMode.CFG);
            assertThat(m.defaults().steps()).isEqualTo(28);
        }
        // replacing an existing SenseFlow folder works and leaves no temporary folders behind
        writeInHouse(dir.resolve("model"), t, null);
        try (var s = Files.list(dir)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList()).isEmpty();
        }
        // a folder holding something else is never overwritten
        Path other = Files.createDirectories(dir.resolve("photos"));
        Files.writeString(other.resolve("keep.txt"), "mine");
        assertThatThrownBy(() -> writeInHouse(other, t, null))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("not overwritten");
        assertThat(other.resolve("keep.txt")).hasContent("mine");
    }
}
