package io.senseflow.onnx.folders;

import io.senseflow.ModelLoadException;
import io.senseflow.json.JsonObject;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.onnx.runtime.DenoiserBinding;
import io.senseflow.onnx.runtime.OrtFluxGenerator;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtTextEncoder;
import io.senseflow.model.Tokenizer;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import io.senseflow.schedule.AnchorPreset;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.FlowMatchEulerScheduler;
import io.senseflow.schedule.SamplingMode;
import io.senseflow.schedule.Scheduler;
import io.senseflow.schedule.Shift;
import java.util.Optional;

/** Loads FLUX.1 Optimum folders (see {@link OrtFluxGenerator} for packing and ids, {@link FluxPromptEncoder} for text). */
final class FluxLayout {
    /** diffusers' default T5 length for FLUX.1-dev (and the SenseFlow FLUX setup). */
    static final int T5_LENGTH = 512;
    /** FLUX.1-schnell's T5 length. */
    static final int SCHNELL_T5_LENGTH = 256;

    private FluxLayout() {
    }

    static LoadedModel load(LayoutContext ctx, boolean senseflow) {
        ModelFolder f = ctx.folder();
        String tcfgName = "transformer/config.json";
        Optional<JsonObject> tcfg = f.json(tcfgName);
        OrtModel tm = ctx.loadDenoiser("transformer", "the FLUX transformer");
        for (String in : new String[] {"hidden_states", "encoder_hidden_states", "pooled_projections", "timestep",
                OrtFluxGenerator.IMG_IDS, OrtFluxGenerator.TXT_IDS}) {
            LayoutContext.requireInput(tm, in, "a FLUX transformer takes hidden_states, encoder_hidden_states, "
                    + "pooled_projections, timestep, img_ids and txt_ids (and guidance for FLUX.1-dev)");
        }
        int features = Sd3Layout.dim(tm, "hidden_states", 2, tcfg, "in_channels", 64, tcfgName);
        if (features % 4 != 0) {
            throw new ModelLoadException(tm.name() + " takes " + features + " features per packed token on 'hidden_states'; "
                    + "FLUX packs 2 x 2 latent cells, so it must be 4 x the latent channels");
        }
        int channels = features / 4;
        int tokenWidth = Sd3Layout.dim(tm, "encoder_hidden_states", 2, tcfg, "joint_attention_dim", -1, tcfgName);
        int pooledWidth = Sd3Layout.dim(tm, "pooled_projections", 1, tcfg, "pooled_projection_dim", -1, tcfgName);
        boolean guidance = tm.hasInput(OrtFluxGenerator.GUIDANCE);

        VaeParts vae = VaeParts.load(ctx, channels, tm.name(), 0.3611, 0.1159);
        LatentFormat format = new LatentFormat(channels, vae.factor(), 2);
        OrtFluxGenerator generator = ctx.track(OrtFluxGenerator.create(tm, DenoiserBinding.flux(), Parameterization.VELOCITY, format));

        int t5Length = ctx.options().t5SequenceLength()
                .or(() -> ModelFolder.integer(f.index(), "max_sequence_length", ModelFolder.INDEX))
                .orElse(guidance || senseflow ? T5_LENGTH : SCHNELL_T5_LENGTH);
        Tokenizer tokClip = ctx.tokenizer("tokenizer", null, Sd3Layout.CLIP_LENGTH, "<|endoftext|>", 0);
        OrtModel clipModel = ctx.load("text_encoder", "the CLIP-L text encoder");
        OrtTextEncoder clip = ctx.track(OrtTextEncoder.builder(clipModel).includeMask(false).build());
        if (clip.pooledOutput() == null) {
            throw new ModelLoadException(clipModel.name() + " has no pooled output (pooler_output or text_embeds); its outputs "
                    + "are " + clipModel.outputs().keySet());
        }
        Tokenizer tokT5 = ctx.tokenizer("tokenizer_2", t5Length, t5Length, null, 0);
        OrtTextEncoder t5 = ctx.track(OrtTextEncoder.builder(ctx.load("text_encoder_2", "the T5 text encoder"))
                .includeMask(false).build());
        long w5 = LayoutContext.outputLastDim(t5.model(), t5.tokensOutput());
        if (w5 > 0 && w5 != tokenWidth) {
            throw new ModelLoadException(tm.name() + " expects text tokens of width " + tokenWidth + ", got " + w5 + " from "
                    + t5.model().name() + " (" + t5.tokensOutput() + ")");
        }
        long p = LayoutContext.outputLastDim(clipModel, clip.pooledOutput());
        if (p > 0 && p != pooledWidth) {
            throw new ModelLoadException(tm.name() + " expects a pooled embedding of width " + pooledWidth + ", got " + p
                    + " from " + clipModel.name() + " (" + clip.pooledOutput() + ")");
        }
        FluxPromptEncoder prompts = ctx.track(FluxPromptEncoder.of(tokClip, clip, tokT5, t5));

        Scheduler scheduler = senseflow ? FewStepScheduler.of(AnchorPreset.FLUX) : scheduler(f);
        String vcfgName = "vae_decoder/config.json";
        int size = f.json(vcfgName).flatMap(c -> ModelFolder.integer(c, "sample_size", vcfgName)).orElse(1024);
        GuidanceMode mode = guidance ? GuidanceMode.EMBEDDED : GuidanceMode.NONE;
        ModelDefaults defaults;
        if (senseflow) {
            defaults = new ModelDefaults(4, guidance ? 3.5 : 0, size, size);
        } else {
            defaults = guidance ? new ModelDefaults(28, 3.5, size, size) : new ModelDefaults(4, 0, size, size);
        }
        String details = "CLIP-L pooled + T5 x " + t5Length + " tokens of width " + tokenWidth + ", 2 x 2 packing into "
                + features + " features, timestep s, " + (guidance ? "embedded guidance" : "no guidance input")
                + ", VAE scaling " + vae.scaling() + " shift " + vae.shift();
        return new LoadedModel(ModelFamily.FLUX, senseflow, f.dir(), f.name(), prompts, generator, vae.decoder(),
                vae.encoder(), scheduler, mode, defaults, details, ctx.runtime());
    }

    /** diffusers' FLUX scheduler config: dynamic shift from the token count, or a static shift (schnell: 1). */
    private static Scheduler scheduler(ModelFolder f) {
        String name = "scheduler/scheduler_config.json";
        Optional<JsonObject> c = f.json(name);
        boolean dynamic = c.flatMap(o -> ModelFolder.bool(o, "use_dynamic_shifting", name)).orElse(true);
        Shift shift;
        if (dynamic) {
            int baseTokens = c.flatMap(o -> ModelFolder.integer(o, "base_image_seq_len", name)).orElse(256);
            int maxTokens = c.flatMap(o -> ModelFolder.integer(o, "max_image_seq_len", name)).orElse(4096);
            double baseMu = c.flatMap(o -> ModelFolder.number(o, "base_shift", name)).orElse(0.5);
            double maxMu = c.flatMap(o -> ModelFolder.number(o, "max_shift", name)).orElse(1.15);
            try {
                shift = new Shift.Dynamic(baseTokens, baseMu, maxTokens, maxMu);
            } catch (io.senseflow.InvalidRequestException e) {
                throw new ModelLoadException(name + ": " + e.getMessage(), e);
            }
            if (baseTokens == 256 && maxTokens == 4096 && baseMu == 0.5 && maxMu == 1.15) {
                return FlowMatchEulerScheduler.flux();
            }
        } else {
            double k = c.flatMap(o -> ModelFolder.number(o, "shift", name)).orElse(1.0);
            try {
                shift = Shift.fixed(k);
            } catch (io.senseflow.InvalidRequestException e) {
                throw new ModelLoadException(name + ": shift: " + e.getMessage(), e);
            }
        }
        return new FlowMatchEulerScheduler(shift, FlowMatchEulerScheduler.Spacing.UNIFORM, SamplingMode.EULER);
    }
}
