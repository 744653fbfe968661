package io.senseflow.onnx.testing;

import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.ModelFamily;
import io.senseflow.onnx.folders.SchedulerSpec;
import io.senseflow.onnx.folders.SenseFlowFolder;
import io.senseflow.onnx.testing.ClosedForms.TextSpec;
import io.senseflow.io.AtomicFiles;
import io.senseflow.json.Json;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes tiny model folders in the real layouts, for tests of loaders, pipelines and tools (the CLI) without
 * downloading anything:
 * <ul>
 *   <li>{@link #sd3}, {@link #flux}, {@link #sdxl}: Optimum-style folders ({@code model_index.json}, component folders
 *       with {@code model.onnx} and {@code config.json}, tokenizer folders with {@code tokenizer.json} and
 *       {@code tokenizer_config.json}, scheduler config) whose graphs have the real exports' input and output names,
 *       ranks and dtypes but compute closed-form functions of all their inputs ({@link ClosedForms}); so
 *       {@link Fixture#reference()} predicts the pipeline's final latents and images exactly;</li>
 *   <li>{@link #senseflow}: the SDK's own layout with small in-house networks from {@code io.senseflow.onnx.arch}
 *       (randomised weights, so outputs are not trivially zero).</li>
 * </ul>
 * Sizes: SD3-like 16 latent channels, CLIP widths 8 and 12, T5 width 24; FLUX-like 16 channels (64 packed features),
 * CLIP 8, T5 16; SDXL-like 4 channels, CLIP widths 8 + 12. Images default to 32 x 32 (VAE factor 8). The prompts the
 * reference understands are plain words ({@link FixtureTokenizer#WORDS}; others become the unknown token).
 *
 * <p>Stateless (static methods only): safe to call from several threads at once for different folders.
 */
public final class TinyModelFolders {
    private TinyModelFolders() {
    }

    /** @param dir destination (created) @return an SD3-like folder with {@link FixtureOptions#defaults()} */
    public static Fixture sd3(Path dir) {
        return sd3(dir, FixtureOptions.defaults());
    }

    /** @param dir destination @param options variations @return an SD3-like folder */
    public static Fixture sd3(Path dir, FixtureOptions options) {
        return write(dir, new FixtureSpec(ModelFamily.SD3, options));
    }

    /** @param dir destination @return a FLUX.1-dev-like folder */
    public static Fixture flux(Path dir) {
        return flux(dir, FixtureOptions.defaults());
    }

    /** @param dir destination @param options variations @return a FLUX-like folder */
    public static Fixture flux(Path dir, FixtureOptions options) {
        return write(dir, new FixtureSpec(ModelFamily.FLUX, options));
    }

    /** @param dir destination @return an SDXL-like folder */
    public static Fixture sdxl(Path dir) {
        return sdxl(dir, FixtureOptions.defaults());
    }

    /** @param dir destination @param options variations @return an SDXL-like folder */
    public static Fixture sdxl(Path dir, FixtureOptions options) {
        return write(dir, new FixtureSpec(ModelFamily.SDXL, options));
    }

    /**
     * A folder in the SDK's own layout: a flow transformer (4 x 4 x 4 latents, patch 2, width 32, one block), a text
     * encoder (vocabulary {@link FixtureTokenizer.Style#CLIP}, 8 tokens, width 32), an autoencoder for 3 x 16 x 16
     * images (factor 4, scaling 1.25, shift 0.1), all with {@link Init#RANDOM_ALL}; few-step scheduler on anchors
     * [1, 0.75, 0.5] without guidance.
     *
     * @param dir destination
     * @param seed initialisation seed
     * @return the folder
     */
    public static Fixture senseflow(Path dir, long seed) {
        SenseFlowFolder.builder()
                .name("tiny-senseflow")
                .transformer(FlowTransformer.build(inHouseTransformer(), seed, Init.RANDOM_ALL))
                .textEncoder(TextTransformer.build(inHouseText(), seed + 1, Init.RANDOM_ALL))
                .vaeDecoder(Autoencoder.build(inHouseVae(), Autoencoder.Part.DECODER, seed + 2, Init.RANDOM_ALL))
                .vaeEncoder(Autoencoder.build(inHouseVae(), Autoencoder.Part.ENCODER, seed + 2, Init.RANDOM_ALL))
                .tokenizer(FixtureTokenizer.json(FixtureTokenizer.Style.CLIP), "<|endoftext|>")
                .scheduler(SchedulerSpec.fewStep(1, 0.75, 0.5))
                .provenance("made_by", "io.senseflow.onnx.testing.TinyModelFolders")
                .provenance("seed", Long.toString(seed))
                .build()
                .write(dir);
        return new Fixture(dir, ModelFamily.SENSEFLOW, FixtureOptions.defaults());
    }

    /** @return the in-house fixture's transformer configuration */
    public static FlowTransformer.Config inHouseTransformer() {
        return FlowTransformer.Config.builder().latentChannels(4).latentSize(4, 4).patchSize(2).width(32).depth(1).heads(2)
                .textWidth(32).textLength(8).pooledWidth(32).mlpRatio(2).build();
    }

    /** @return the in-house fixture's text encoder configuration */
    public static TextTransformer.Config inHouseText() {
        return TextTransformer.Config.builder().vocab(FixtureTokenizer.Style.CLIP.vocabSize()).length(8).width(32).depth(1)
                .heads(2).mlpRatio(2).build();
    }

    /** @return the in-house fixture's autoencoder configuration */
    public static Autoencoder.Config inHouseVae() {
        return Autoencoder.Config.builder().imageSize(16, 16).latentChannels(4).channels(8, 8, 8).groups(4)
                .scalingFactor(1.25).shiftFactor(0.1).build();
    }

    // ------------------------------------------------------------------ Optimum-style folders

    private static Fixture write(Path dir, FixtureSpec s) {
        FixtureOptions o = s.options;
        var p = o.precision();
        Map<String, Object> index = new LinkedHashMap<>();
        switch (s.family) {
            case SD3 -> {
                index.put("_class_name", "StableDiffusion3Pipeline");
                index.put("_diffusers_version", "0.31.0");
                index.put("scheduler", List.of("diffusers", "FlowMatchEulerDiscreteScheduler"));
                index.put("text_encoder", List.of("transformers", "CLIPTextModelWithProjection"));
                index.put("text_encoder_2", List.of("transformers", "CLIPTextModelWithProjection"));
                index.put("text_encoder_3", o.t5() ? List.of("transformers", "T5EncoderModel") : java.util.Arrays.asList(null, null));
                index.put("tokenizer", List.of("transformers", "CLIPTokenizer"));
                index.put("tokenizer_2", List.of("transformers", "CLIPTokenizer"));
                index.put("tokenizer_3", List.of("transformers", "T5TokenizerFast"));
                index.put("transformer", List.of("diffusers", "SD3Transformer2DModel"));
                index.put("vae", List.of("diffusers", "AutoencoderKL"));
                writeText(dir, "tokenizer", s.clipL, FixtureTokenizer.Style.CLIP, "<|endoftext|>", o.clipLength(), p);
                writeText(dir, "tokenizer_2", s.clipG, FixtureTokenizer.Style.CLIP, "!", o.clipLength(), p);
                if (s.t5 != null) {
                    writeText(dir, "tokenizer_3", s.t5, FixtureTokenizer.Style.T5, "<pad>", 512, p);
                }
                writeModel(dir, "transformer", ClosedForms.denoiser(s.denoiser, p), config("SD3Transformer2DModel",
                        "in_channels", 16L, "joint_attention_dim", (long) s.denoiser.tokenWidth(), "pooled_projection_dim",
                        (long) s.denoiser.pooledWidth(), "patch_size", 2L, "sample_size", (long) o.latentSize()));
                writeJson(dir.resolve("scheduler/scheduler_config.json"), config("FlowMatchEulerDiscreteScheduler",
                        "num_train_timesteps", 1000L, "shift", 3.0));
            }
            case FLUX -> {
                index.put("_class_name", "FluxPipeline");
                index.put("_diffusers_version", "0.31.0");
                index.put("scheduler", List.of("diffusers", "FlowMatchEulerDiscreteScheduler"));
                index.put("text_encoder", List.of("transformers", "CLIPTextModel"));
                index.put("text_encoder_2", List.of("transformers", "T5EncoderModel"));
                index.put("tokenizer", List.of("transformers", "CLIPTokenizer"));
                index.put("tokenizer_2", List.of("transformers", "T5TokenizerFast"));
                index.put("transformer", List.of("diffusers", "FluxTransformer2DModel"));
                index.put("vae", List.of("diffusers", "AutoencoderKL"));
                writeText(dir, "tokenizer", s.clipL, FixtureTokenizer.Style.CLIP, "<|endoftext|>", o.clipLength(), p);
                writeText(dir, "tokenizer_2", s.t5, FixtureTokenizer.Style.T5, "<pad>", 512, p);
                writeModel(dir, "transformer", ClosedForms.denoiser(s.denoiser, p), config("FluxTransformer2DModel",
                        "in_channels", 64L, "joint_attention_dim", (long) s.denoiser.tokenWidth(), "pooled_projection_dim",
                        (long) s.denoiser.pooledWidth(), "patch_size", 1L, "guidance_embeds", s.denoiser.guidance()));
                writeJson(dir.resolve("scheduler/scheduler_config.json"), config("FlowMatchEulerDiscreteScheduler",
                        "num_train_timesteps", 1000L, "shift", 3.0, "use_dynamic_shifting", true, "base_shift", 0.5,
                        "max_shift", 1.15, "base_image_seq_len", 256L, "max_image_seq_len", 4096L));
            }
            case SDXL -> {
                index.put("_class_name", "StableDiffusionXLPipeline");
                index.put("_diffusers_version", "0.31.0");
                index.put("force_zeros_for_empty_prompt", true);
                index.put("scheduler", List.of("diffusers", "EulerDiscreteScheduler"));
                index.put("text_encoder", List.of("transformers", "CLIPTextModel"));
                index.put("text_encoder_2", List.of("transformers", "CLIPTextModelWithProjection"));
                index.put("tokenizer", List.of("transformers", "CLIPTokenizer"));
                index.put("tokenizer_2", List.of("transformers", "CLIPTokenizer"));
                index.put("unet", List.of("diffusers", "UNet2DConditionModel"));
                index.put("vae", List.of("diffusers", "AutoencoderKL"));
                writeText(dir, "tokenizer", s.clipL, FixtureTokenizer.Style.CLIP, "<|endoftext|>", o.clipLength(), p);
                writeText(dir, "tokenizer_2", s.clipG, FixtureTokenizer.Style.CLIP, "!", o.clipLength(), p);
                writeModel(dir, "unet", ClosedForms.denoiser(s.denoiser, p), config("UNet2DConditionModel",
                        "in_channels", 4L, "cross_attention_dim", (long) s.denoiser.tokenWidth(), "sample_size",
                        (long) o.latentSize(), "addition_embed_type", "text_time"));
                writeJson(dir.resolve("scheduler/scheduler_config.json"), config("EulerDiscreteScheduler",
                        "num_train_timesteps", 1000L, "beta_start", 0.00085, "beta_end", 0.012, "beta_schedule",
                        "scaled_linear", "prediction_type", "epsilon", "timestep_spacing", "leading", "steps_offset", 1L));
            }
            default -> throw new IllegalArgumentException("no closed-form fixture for " + s.family);
        }
        if (o.senseflowCheckpoint()) {
            index.put("senseflow_checkpoint", true);
        }
        Map<String, Object> vae = config("AutoencoderKL", "latent_channels", (long) s.vaeChannels, "scaling_factor", s.scaling,
                "shift_factor", s.shift == 0 ? null : s.shift, "block_out_channels", List.of(128L, 256L, 512L, 512L),
                "sample_size", (long) o.imageSize());
        writeModel(dir, "vae_decoder", ClosedForms.vaeDecoder(s.vaeChannels, p), vae);
        if (o.vaeEncoder()) {
            writeModel(dir, "vae_encoder", ClosedForms.vaeEncoder(s.vaeChannels, p), vae);
        }
        writeJson(dir.resolve("model_index.json"), index);
        return new Fixture(dir, s.family, o);
    }

    private static void writeText(Path dir, String tokenizerFolder, TextSpec spec, FixtureTokenizer.Style style, String pad,
                                  int maxLength, io.senseflow.onnx.ir.DataType precision) {
        Path tok = dir.resolve(tokenizerFolder);
        write(tok.resolve("tokenizer.json"), FixtureTokenizer.json(style));
        write(tok.resolve("tokenizer_config.json"), FixtureTokenizer.config(pad, maxLength));
        Map<String, Object> cfg = config(spec.t5() ? "T5EncoderModel" : "CLIPTextModel", "hidden_size", (long) spec.width(),
                "num_hidden_layers", (long) spec.layers(), "vocab_size", (long) spec.vocab());
        if (spec.pooledWidth() > 0 && spec.pooledName().equals("text_embeds")) {
            cfg.put("projection_dim", (long) spec.pooledWidth());
        }
        writeModel(dir, spec.name(), ClosedForms.textEncoder(spec, precision), cfg);
    }

    private static void writeModel(Path dir, String component, OnnxModel model, Map<String, Object> config) {
        model.write(dir.resolve(component).resolve("model.onnx"));
        writeJson(dir.resolve(component).resolve("config.json"), config);
    }

    private static Map<String, Object> config(String className, Object... keysAndValues) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("_class_name", className);
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }

    private static void writeJson(Path file, Map<String, Object> value) {
        write(file, Json.writePretty(value));
    }

    private static void write(Path file, String text) {
        AtomicFiles.write(file, text.getBytes(StandardCharsets.UTF_8));
    }
}
