package io.senseflow.onnx.folders;

import io.senseflow.ModelLoadException;
import io.senseflow.json.JsonObject;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.onnx.runtime.DenoiserBinding;
import io.senseflow.onnx.runtime.OrtGenerator;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtTextEncoder;
import io.senseflow.model.Tokenizer;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import io.senseflow.schedule.AnchorPreset;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.FlowMatchEulerScheduler;
import io.senseflow.schedule.Scheduler;
import java.util.Optional;

/** Loads SD3 / SD3.5 Optimum folders (see {@link Sd3PromptEncoder} for the text conventions). */
final class Sd3Layout {
    /** diffusers' default T5 length for SD3. */
    static final int T5_LENGTH = 256;
    /** The T5 length the released SenseFlow SD3.5 generators were trained with. */
    static final int SENSEFLOW_T5_LENGTH = 77;
    static final int CLIP_LENGTH = 77;

    private Sd3Layout() {
    }

    static LoadedModel load(LayoutContext ctx, boolean senseflow) {
        ModelFolder f = ctx.folder();
        String tcfgName = "transformer/config.json";
        Optional<JsonObject> tcfg = f.json(tcfgName);

        OrtModel tm = ctx.loadDenoiser("transformer", "the SD3 transformer");
        for (String in : new String[] {"hidden_states", "encoder_hidden_states", "pooled_projections", "timestep"}) {
            LayoutContext.requireInput(tm, in, "an SD3 transformer takes hidden_states, encoder_hidden_states, "
                    + "pooled_projections and timestep");
        }
        int channels = dim(tm, "hidden_states", 1, tcfg, "in_channels", 16, tcfgName);
        int tokenWidth = dim(tm, "encoder_hidden_states", 2, tcfg, "joint_attention_dim", -1, tcfgName);
        int pooledWidth = dim(tm, "pooled_projections", 1, tcfg, "pooled_projection_dim", -1, tcfgName);
        int patch = tcfg.flatMap(c -> ModelFolder.integer(c, "patch_size", tcfgName)).orElse(2);
        int sampleSize = tcfg.flatMap(c -> ModelFolder.integer(c, "sample_size", tcfgName)).orElse(128);

        VaeParts vae = VaeParts.load(ctx, channels, tm.name(), 1.5305, 0.0609);
        LatentFormat format = new LatentFormat(channels, vae.factor(), patch);
        OrtGenerator generator = ctx.track(OrtGenerator.create(tm, DenoiserBinding.sd3(), Parameterization.VELOCITY, format));

        int t5Length = ctx.options().t5SequenceLength()
                .or(() -> ModelFolder.integer(f.index(), "max_sequence_length", ModelFolder.INDEX))
                .orElse(senseflow ? SENSEFLOW_T5_LENGTH : T5_LENGTH);

        Tokenizer tokL = ctx.tokenizer("tokenizer", null, CLIP_LENGTH, "<|endoftext|>", 0);
        OrtTextEncoder encL = clip(ctx, "text_encoder", "CLIP-L");
        Tokenizer tokG = ctx.tokenizer("tokenizer_2", null, CLIP_LENGTH, "!", 0);
        OrtTextEncoder encG = clip(ctx, "text_encoder_2", "CLIP-G");
        Tokenizer tokT5 = null;
        OrtTextEncoder encT5 = null;
        if (f.hasFolder("text_encoder_3")) {
            tokT5 = ctx.tokenizer("tokenizer_3", t5Length, t5Length, null, 0);
            encT5 = ctx.track(OrtTextEncoder.builder(ctx.load("text_encoder_3", "the T5 text encoder")).includeMask(false).build());
        }

        long wL = LayoutContext.outputLastDim(encL.model(), encL.tokensOutput());
        long wG = LayoutContext.outputLastDim(encG.model(), encG.tokensOutput());
        if (wL > 0 && wG > 0 && wL + wG > tokenWidth) {
            throw new ModelLoadException(tm.name() + " takes " + tokenWidth + " features per text token, but the CLIP "
                    + "encoders give " + wL + " (text_encoder/model.onnx) + " + wG + " (text_encoder_2/model.onnx) = " + (wL + wG));
        }
        if (encT5 != null) {
            long w5 = LayoutContext.outputLastDim(encT5.model(), encT5.tokensOutput());
            if (w5 > 0 && w5 != tokenWidth) {
                throw new ModelLoadException(tm.name() + " expects text tokens of width " + tokenWidth + ", got " + w5
                        + " from " + encT5.model().name() + " (" + encT5.tokensOutput() + ")");
            }
        }
        long pL = LayoutContext.outputLastDim(encL.model(), encL.pooledOutput());
        long pG = LayoutContext.outputLastDim(encG.model(), encG.pooledOutput());
        if (pL > 0 && pG > 0 && pL + pG != pooledWidth) {
            throw new ModelLoadException(tm.name() + " expects a pooled embedding of width " + pooledWidth + ", got " + pL
                    + " (text_encoder/model.onnx " + encL.pooledOutput() + ") + " + pG + " (text_encoder_2/model.onnx "
                    + encG.pooledOutput() + ") = " + (pL + pG));
        }
        Sd3PromptEncoder prompts = ctx.track(Sd3PromptEncoder.of(tokL, encL, tokG, encG, tokT5, encT5, tokenWidth, t5Length));

        String scfgName = "scheduler/scheduler_config.json";
        double shift = f.json(scfgName).flatMap(c -> ModelFolder.number(c, "shift", scfgName)).orElse(3.0);
        Scheduler scheduler = senseflow ? FewStepScheduler.of(AnchorPreset.SD35) : FlowMatchEulerScheduler.sd3(shift);
        int size = sampleSize * vae.factor();
        ModelDefaults defaults = senseflow ? new ModelDefaults(4, 0, size, size) : new ModelDefaults(28, 7.0, size, size);
        GuidanceMode mode = senseflow ? GuidanceMode.NONE : GuidanceMode.CFG;
        String details = "CLIP-L + CLIP-G (hidden state -2, pooled concatenated) + " + (encT5 == null ? "no T5 (zeros)" : "T5")
                + " x " + t5Length + " tokens of width " + tokenWidth + ", timestep 1000 s, VAE scaling " + vae.scaling()
                + " shift " + vae.shift() + (senseflow ? "" : ", scheduler shift " + shift);
        return new LoadedModel(ModelFamily.SD3, senseflow, f.dir(), f.name(), prompts, generator, vae.decoder(),
                vae.encoder(), scheduler, mode, defaults, details, ctx.runtime());
    }

    static OrtTextEncoder clip(LayoutContext ctx, String component, String what) {
        OrtModel m = ctx.load(component, "the " + what + " text encoder");
        OrtTextEncoder enc = ctx.track(OrtTextEncoder.builder(m).hiddenState(-2).includeMask(false).build());
        if (enc.pooledOutput() == null) {
            throw new ModelLoadException(m.name() + " has no pooled output (text_embeds or pooler_output); its outputs are "
                    + m.outputs().keySet());
        }
        return enc;
    }

    /** A fixed dimension of a model input, else the config's value, else the family default; -1 default means required. */
    static int dim(OrtModel m, String input, int axis, Optional<JsonObject> config, String key, int fallback, String cfgName) {
        long fixed = LayoutContext.inputDim(m, input, axis);
        Optional<Integer> fromConfig = config.flatMap(c -> ModelFolder.integer(c, key, cfgName));
        if (fixed >= 0) {
            if (fromConfig.isPresent() && key.equals("in_channels") && fromConfig.get() != fixed) {
                throw new ModelLoadException(m.name() + " declares " + fixed + " channels on '" + input + "', but "
                        + cfgName + " says " + key + " = " + fromConfig.get());
            }
            return (int) fixed;
        }
        if (fromConfig.isPresent()) {
            return fromConfig.get();
        }
        if (fallback < 0) {
            throw new ModelLoadException(m.name() + ": dimension " + axis + " of input '" + input + "' is not fixed and "
                    + cfgName + " gives no " + key + "; cannot tell the model's width");
        }
        return fallback;
    }
}
