package io.senseflow.onnx.folders;

import static io.senseflow.onnx.folders.LayoutPipelineTest.OPTIONS;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.runtime.LogCapture;
import io.senseflow.onnx.testing.Fixture;
import io.senseflow.onnx.testing.FixtureOptions;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Broken folders and bad requests: each a typed exception whose message names the file or field. */
class LayoutErrorsTest {
    @TempDir
    Path dir;

    @Test
    void missingOrUnrecognisedFolders() throws IOException {
        Path nowhere = dir.resolve("nowhere");
        assertThatThrownBy(() -> Models.load(nowhere, OPTIONS))
                .isInstanceOf(ModelLoadException.class).hasMessage("model folder " + nowhere + " does not exist");
        Path file = Files.writeString(dir.resolve("model.onnx"), "x");
        assertThatThrownBy(() -> Models.load(file, OPTIONS))
                .isInstanceOf(ModelLoadException.class).hasMessageStartingWith(file + " is not a folder");
        Path empty = Files.createDirectories(dir.resolve("empty").resolve("vae_decoder"));
        assertThatThrownBy(() -> Models.load(empty.getParent(), OPTIONS))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("cannot tell which model family")
                .hasMessageContaining("it has no model_index.json, and its folders are [vae_decoder/]")
                .hasMessageContaining("--family sd3|flux|sdxl|senseflow");
        Files.writeString(empty.getParent().resolve("model_index.json"), "{\"_class_name\": \"StableDiffusion3Pipeline\",}");
        assertThatThrownBy(() -> Models.load(empty.getParent(), OPTIONS))
                .isInstanceOf(ModelLoadException.class).hasMessageStartingWith("model_index.json is not valid JSON");
        Files.writeString(empty.getParent().resolve("model_index.json"), "{\"family\": \"sd4\"}");
        assertThatThrownBy(() -> Models.load(empty.getParent(), OPTIONS))
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("model_index.json: family: expected one of [sd3, flux, sdxl, senseflow], got sd4");
    }

    @Test
    void missingComponentsAndTokenizers() throws IOException {
        Fixture f = TinyModelFolders.sd3(dir.resolve("sd3"));
        Files.delete(f.dir().resolve("text_encoder_2/model.onnx"));
        assertThatThrownBy(() -> Models.load(f.dir(), OPTIONS))
                .isInstanceOf(ModelLoadException.class)
                .hasMessageStartingWith("text_encoder_2/model.onnx is missing in " + f.dir().toAbsolutePath()
                        + "; the CLIP-G text encoder is expected there");
        Fixture g = TinyModelFolders.flux(dir.resolve("flux"));
        Files.delete(g.dir().resolve("tokenizer/tokenizer.json"));
        Files.writeString(g.dir().resolve("tokenizer/vocab.json"), "{}");
        assertThatThrownBy(() -> Models.load(g.dir(), OPTIONS))
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("tokenizer folder " + g.dir().toAbsolutePath().resolve("tokenizer") + ": expected "
                        + "tokenizer.json, or vocab.json and merges.txt (a CLIP tokenizer as Optimum writes it); it has "
                        + "vocab.json but no merges.txt");
        Files.writeString(g.dir().resolve("tokenizer/merges.txt"), "#version: 0.2\n");
        assertThatThrownBy(() -> Models.load(g.dir(), OPTIONS))
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("vocab.json in " + g.dir().toAbsolutePath().resolve("tokenizer") + " is an empty vocabulary");
    }

    @Test
    void truncatedOrCorruptFiles() throws IOException {
        Fixture f = TinyModelFolders.sdxl(dir.resolve("sdxl"));
        Path unet = f.dir().resolve("unet/model.onnx");
        byte[] bytes = Files.readAllBytes(unet);
        Files.write(unet, Arrays.copyOf(bytes, bytes.length / 2));
        assertThatThrownBy(() -> Models.load(f.dir(), OPTIONS))
                .isInstanceOf(ModelLoadException.class).hasMessageStartingWith("ONNX Runtime cannot load unet/model.onnx");
        Files.write(unet, bytes);

        // a weights file whose header claims more bytes than the file has
        Path weights = f.dir().resolve("unet/weights.safetensors");
        byte[] header = "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}".getBytes(StandardCharsets.UTF_8);
        byte[] broken = new byte[8 + header.length + 4];
        java.nio.ByteBuffer.wrap(broken).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(header.length).put(header);
        Files.write(weights, broken);
        assertThatThrownBy(() -> Models.load(f.dir(), OPTIONS))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("weights.safetensors");
        Files.write(weights, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> Models.load(f.dir(), OPTIONS))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("weights.safetensors");
        Files.delete(weights);
        assertThatThrownBy(() -> Models.load(f.dir(), OPTIONS.toBuilder().weights("unte", Path.of("w.safetensors")).build()))
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("LoadOptions.weights names component 'unte', but " + f.dir().toAbsolutePath() + " has no unte/model.onnx");
        try (LoadedModel m = Models.load(f.dir(), OPTIONS)) {
            assertThat(m.family()).isEqualTo(ModelFamily.SDXL);
        }
    }

    @Test
    void shapesThatDoNotFitTogether() throws IOException {
        Fixture f = TinyModelFolders.sd3(dir.resolve("sd3-vae4"), FixtureOptions.defaults().withVaeLatentChannels(4));
        assertThatThrownBy(() -> Models.load(f.dir(), OPTIONS))
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("transformer/model.onnx expects 16 latent channels, got 4 from vae_decoder/config.json (latent_channels)");
        // without the config value the graph's own input tells
        Path cfg = f.dir().resolve("vae_decoder/config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"latent_channels\"", "\"latent_channels_unused\""));
        assertThatThrownBy(() -> Models.load(f.dir(), OPTIONS))
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("transformer/model.onnx expects 16 latent channels, got 4 from vae_decoder/model.onnx (input 'latent_sample')");

        // a T5 of the wrong width in a FLUX folder
        Fixture flux = TinyModelFolders.flux(dir.resolve("flux"));
        Fixture sd3 = TinyModelFolders.sd3(dir.resolve("sd3"));
        Files.copy(sd3.dir().resolve("text_encoder_3/model.onnx"), flux.dir().resolve("text_encoder_2/model.onnx"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> Models.load(flux.dir(), OPTIONS))
                .isInstanceOf(ModelLoadException.class)
                .hasMessage("transformer/model.onnx expects text tokens of width 16, got 24 from text_encoder_2/model.onnx "
                        + "(last_hidden_state)");
        // forcing the wrong family fails at load time too
        assertThatThrownBy(() -> Models.load(sd3.dir(), OPTIONS.toBuilder().family(ModelFamily.SDXL).build()))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("unet/model.onnx is missing");
    }

    @Test
    void badRequests() {
        Fixture f = TinyModelFolders.flux(dir.resolve("flux"));
        try (LoadedModel m = Models.load(f.dir(), OPTIONS)) {
            assertThatThrownBy(() -> m.pipeline().generate(GenerationRequest.builder().prompt("a").width(40).build()))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("width: expected a multiple of 16 (VAE factor 8 x patch 2), got 40");
            assertThatThrownBy(() -> m.pipeline().generate(GenerationRequest.builder().prompt("a").height(24).build()))
                    .isInstanceOf(InvalidRequestException.class).hasMessageStartingWith("height: expected a multiple of 16");
            // the CLIP tokenizer takes 10 tokens: a longer prompt is cut, with one warning naming the tokenizer
            String prompt = "a big red fox and a small blue dog on the mat in the snow";
            GenerationResult[] out = new GenerationResult[1];
            String log = LogCapture.stderr(() -> out[0] = m.pipeline().generate(GenerationRequest.builder().prompt(prompt)
                    .numInferenceSteps(1).build()));
            assertThat(log).contains("tokenizer/tokenizer.json: a prompt has 17 tokens, more than the 10 this text encoder "
                    + "takes, and was truncated");
            assertThat(LogCapture.count(log, "was truncated")).isEqualTo(1); // T5 takes 512 and does not cut
            assertThat(out[0].images()).hasSize(1);
        }
    }
}
