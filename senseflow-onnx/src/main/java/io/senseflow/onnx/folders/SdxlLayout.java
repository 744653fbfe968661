package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.json.JsonObject;
import io.senseflow.model.EpsilonToFlowAdapter;
import io.senseflow.model.LatentFormat;
import io.senseflow.onnx.runtime.DenoiserBinding;
import io.senseflow.onnx.runtime.OrtEpsilonModel;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtTextEncoder;
import io.senseflow.model.Tokenizer;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import io.senseflow.schedule.AnchorPreset;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.Scheduler;
import java.util.Optional;

/** Loads SDXL Optimum folders: epsilon UNet under {@link EpsilonToFlowAdapter}, {@link SdxlPromptEncoder}, {@link SdxlUnet}. */
final class SdxlLayout {
    private SdxlLayout() {
    }

    static LoadedModel load(LayoutContext ctx, boolean senseflow) {
        ModelFolder f = ctx.folder();
        String ucfgName = "unet/config.json";
        Optional<JsonObject> ucfg = f.json(ucfgName);
        String scfgName = "scheduler/scheduler_config.json";
        Optional<JsonObject> scfg = f.json(scfgName);
        scfg.flatMap(c -> ModelFolder.string(c, "prediction_type", scfgName)).ifPresent(p -> {
            if (!p.equals("epsilon")) {
                throw new ModelLoadException(scfgName + ": prediction_type: expected epsilon (the SDK maps epsilon UNets "
                        + "into the flow convention), got " + p);
            }
        });
        DdpmSchedule table = table(scfg, scfgName);

        OrtModel um = ctx.loadDenoiser("unet", "the SDXL UNet");
        for (String in : new String[] {"sample", "timestep", "encoder_hidden_states", "text_embeds", SdxlUnet.TIME_IDS}) {
            LayoutContext.requireInput(um, in, "an SDXL UNet takes sample, timestep, encoder_hidden_states, text_embeds "
                    + "and time_ids");
        }
        int channels = Sd3Layout.dim(um, "sample", 1, ucfg, "in_channels", 4, ucfgName);
        int crossWidth = Sd3Layout.dim(um, "encoder_hidden_states", 2, ucfg, "cross_attention_dim", -1, ucfgName);
        long pooledWidth = LayoutContext.inputDim(um, "text_embeds", 1);
        long timeIds = LayoutContext.inputDim(um, SdxlUnet.TIME_IDS, 1);
        if (timeIds >= 0 && timeIds != 6) {
            throw new ModelLoadException(um.name() + " expects " + timeIds + " values per sample on 'time_ids'; SDXL's are 6 "
                    + "(original size, crop, target size)");
        }
        int sampleSize = ucfg.flatMap(c -> ModelFolder.integer(c, "sample_size", ucfgName)).orElse(128);

        VaeParts vae = VaeParts.load(ctx, channels, um.name(), 0.13025, 0);
        LatentFormat format = new LatentFormat(channels, vae.factor(), 1);
        OrtEpsilonModel unet = ctx.track(OrtEpsilonModel.create(um, DenoiserBinding.sdxlUnet(), format));
        EpsilonToFlowAdapter generator = ctx.track(new EpsilonToFlowAdapter(new SdxlUnet(unet), table));

        Tokenizer tokL = ctx.tokenizer("tokenizer", null, Sd3Layout.CLIP_LENGTH, "<|endoftext|>", 0);
        OrtModel lm = ctx.load("text_encoder", "the CLIP-L text encoder");
        OrtTextEncoder encL = ctx.track(OrtTextEncoder.builder(lm).hiddenState(-2).includeMask(false).build());
        Tokenizer tokG = ctx.tokenizer("tokenizer_2", null, Sd3Layout.CLIP_LENGTH, "!", 0);
        OrtTextEncoder encG = Sd3Layout.clip(ctx, "text_encoder_2", "CLIP-G");
        long wL = LayoutContext.outputLastDim(lm, encL.tokensOutput());
        long wG = LayoutContext.outputLastDim(encG.model(), encG.tokensOutput());
        if (wL > 0 && wG > 0 && wL + wG != crossWidth) {
            throw new ModelLoadException(um.name() + " expects text tokens of width " + crossWidth + ", got " + wL
                    + " (text_encoder/model.onnx) + " + wG + " (text_encoder_2/model.onnx) = " + (wL + wG));
        }
        long pG = LayoutContext.outputLastDim(encG.model(), encG.pooledOutput());
        if (pG > 0 && pooledWidth > 0 && pG != pooledWidth) {
            throw new ModelLoadException(um.name() + " expects text_embeds of width " + pooledWidth + ", got " + pG + " from "
                    + encG.model().name() + " (" + encG.pooledOutput() + ")");
        }
        boolean forceZeros = ModelFolder.bool(f.index(), "force_zeros_for_empty_prompt", ModelFolder.INDEX).orElse(true);
        SdxlPromptEncoder prompts = ctx.track(SdxlPromptEncoder.of(tokL, encL, tokG, encG, forceZeros));

        Scheduler scheduler;
        if (senseflow) {
            scheduler = FewStepScheduler.of(AnchorPreset.SDXL);
        } else {
            String spacing = scfg.flatMap(c -> ModelFolder.string(c, "timestep_spacing", scfgName)).orElse("leading");
            int offset = scfg.flatMap(c -> ModelFolder.integer(c, "steps_offset", scfgName)).orElse(1);
            try {
                scheduler = new DdpmEulerScheduler(table, DdpmEulerScheduler.Spacing.fromConfig(spacing), offset);
            } catch (InvalidRequestException e) {
                throw new ModelLoadException(scfgName + ": " + e.getMessage(), e);
            }
        }
        int size = sampleSize * vae.factor();
        ModelDefaults defaults = senseflow ? new ModelDefaults(4, 0, size, size) : new ModelDefaults(50, 5.0, size, size);
        GuidanceMode mode = senseflow ? GuidanceMode.NONE : GuidanceMode.CFG;
        String details = "CLIP-L + CLIP-G (hidden state -2) tokens of width " + crossWidth + ", CLIP-G pooled text_embeds, "
                + "time_ids [H, W, 0, 0, H, W], " + (forceZeros ? "zeroed" : "encoded") + " empty negative prompts, "
                + "epsilon UNet through EpsilonToFlowAdapter, VAE scaling " + vae.scaling() + " shift " + vae.shift();
        return new LoadedModel(ModelFamily.SDXL, senseflow, f.dir(), f.name(), prompts, generator, vae.decoder(),
                vae.encoder(), scheduler, mode, defaults, details, ctx.runtime());
    }

    private static DdpmSchedule table(Optional<JsonObject> scfg, String name) {
        if (scfg.isEmpty()) {
            return DdpmSchedule.stableDiffusion();
        }
        JsonObject c = scfg.get();
        String betas = ModelFolder.string(c, "beta_schedule", name).orElse("scaled_linear");
        if (!betas.equals("scaled_linear")) {
            throw new ModelLoadException(name + ": beta_schedule: expected scaled_linear, got " + betas);
        }
        double start = ModelFolder.number(c, "beta_start", name).orElse(0.00085);
        double end = ModelFolder.number(c, "beta_end", name).orElse(0.012);
        int steps = ModelFolder.integer(c, "num_train_timesteps", name).orElse(1000);
        try {
            return DdpmSchedule.scaledLinear(start, end, steps);
        } catch (InvalidRequestException e) {
            throw new ModelLoadException(name + ": " + e.getMessage(), e);
        }
    }
}
