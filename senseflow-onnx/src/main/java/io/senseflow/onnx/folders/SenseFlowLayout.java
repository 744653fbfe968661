package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.model.PromptEncoder;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.runtime.DenoiserBinding;
import io.senseflow.onnx.runtime.OrtGenerator;
import io.senseflow.onnx.runtime.OrtImageDecoder;
import io.senseflow.onnx.runtime.OrtImageEncoder;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtTextEncoder;
import io.senseflow.model.Tokenizer;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import io.senseflow.schedule.Scheduler;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/** Loads the SDK's own layout (written by {@link SenseFlowFolder}); configurations come from the graphs' metadata. */
final class SenseFlowLayout {
    static final int FORMAT_VERSION = 1;
    static final String CLASS_NAME = "SenseFlowPipeline";

    private SenseFlowLayout() {
    }

    static LoadedModel load(LayoutContext ctx, Optional<Boolean> senseflowOption) {
        ModelFolder f = ctx.folder();
        JsonObject index = f.index();
        if (!f.hasIndex()) {
            throw new ModelLoadException(ModelFolder.INDEX + " is missing in " + f.dir() + "; the SenseFlow layout keeps its "
                    + "scheduler, guidance and defaults there");
        }
        int version = ModelFolder.integer(index, "format_version", ModelFolder.INDEX).orElseThrow(() ->
                new ModelLoadException(ModelFolder.INDEX + ": format_version is missing; expected " + FORMAT_VERSION));
        if (version != FORMAT_VERSION) {
            throw new ModelLoadException(ModelFolder.INDEX + ": format_version: expected " + FORMAT_VERSION
                    + " (the version this SDK reads), got " + version);
        }
        SchedulerSpec spec;
        try {
            spec = SchedulerSpec.fromJson(index.getObject("scheduler"));
        } catch (JsonException | InvalidRequestException e) {
            throw new ModelLoadException(ModelFolder.INDEX + ": " + e.getMessage(), e);
        }
        if (senseflowOption.isPresent() && senseflowOption.get() != spec.isFewStep()) {
            throw new ModelLoadException(ModelFolder.INDEX + ": the scheduler is " + spec.type() + ", which contradicts "
                    + "LoadOptions.senseflowCheckpoint(" + senseflowOption.get() + "); in the SenseFlow layout the scheduler "
                    + "decides");
        }

        Path tPath = f.requireModel("transformer", "the flow transformer");
        Path tePath = f.requireModel("text_encoder", "the text encoder");
        Path dPath = f.requireModel("vae_decoder", "the autoencoder's decoder");
        InHouseParts parts = new InHouseParts(
                FlowTransformer.Config.fromMetadata(OnnxModel.read(tPath).metadata(), "transformer/model.onnx"),
                TextTransformer.Config.fromMetadata(OnnxModel.read(tePath).metadata(), "text_encoder/model.onnx"),
                decoderConfig(dPath));
        parts.check(ModelLoadException::new);

        FlowTransformer.Config tc = parts.transformer();
        Autoencoder.Config ac = parts.vae();
        LatentFormat format = new LatentFormat(tc.latentChannels(), ac.downsamplingFactor(), tc.patchSize());
        OrtModel tm = ctx.loadDenoiser("transformer", "the flow transformer");
        DenoiserBinding binding = DenoiserBinding.builder().timestepScale(1f).pooled(FlowTransformer.POOLED_PROJECTIONS)
                .output(FlowTransformer.OUT_HIDDEN_STATES).build();
        OrtGenerator ort = ctx.track(OrtGenerator.create(tm, binding, Parameterization.VELOCITY, format));
        FixedSizeGenerator generator = ctx.track(new FixedSizeGenerator(ort, tm.name(), tc.latentHeight(), tc.latentWidth()));

        Tokenizer tokenizer = ctx.tokenizer("tokenizer", parts.text().length(), parts.text().length(), null, 0);
        OrtTextEncoder text = ctx.track(OrtTextEncoder.builder(ctx.load("text_encoder", "the text encoder"))
                .pooledOutput(TextTransformer.POOLER_OUTPUT).includeMask(false).build());
        PromptEncoder prompts = ctx.track(new SingleEncoderPrompts(new EncoderPair("text_encoder", tokenizer, text)));

        float scaling = (float) ac.scalingFactor();
        float shift = (float) ac.shiftFactor();
        OrtImageDecoder decoder = ctx.track(OrtImageDecoder.builder(ctx.load("vae_decoder", "the autoencoder's decoder"))
                .input(Autoencoder.LATENT).output(Autoencoder.SAMPLE).scalingFactor(scaling).shiftFactor(shift).build());
        OrtImageEncoder encoder = null;
        if (ctx.options().loadImageEncoder() && f.hasModel("vae_encoder")) {
            Path ePath = f.requireModel("vae_encoder", "the autoencoder's encoder");
            OnnxModel graph = OnnxModel.read(ePath);
            Autoencoder.Config ec = Autoencoder.Config.fromMetadata(graph.metadata(), "vae_encoder/model.onnx");
            if (!ec.equals(ac)) {
                throw new ModelLoadException("vae_encoder/model.onnx was built for " + ec + ", but vae_decoder/model.onnx for " + ac);
            }
            encoder = ctx.track(OrtImageEncoder.builder(ctx.load("vae_encoder", "the autoencoder's encoder"))
                    .input(Autoencoder.SAMPLE).output(Autoencoder.LATENT).scalingFactor(scaling).shiftFactor(shift).build());
        }

        Scheduler scheduler = spec.toScheduler();
        GuidanceMode mode = guidance(index, spec);
        ModelDefaults defaults = defaults(index, spec, mode, ac);
        String name = ModelFolder.string(index, "name", ModelFolder.INDEX).orElse(f.name());
        String details = "flow transformer " + tc.width() + " wide x " + tc.depth() + " blocks, text encoder "
                + parts.text().width() + " wide x " + parts.text().length() + " tokens, autoencoder x" + ac.downsamplingFactor()
                + ", timestep s, VAE scaling " + scaling + " shift " + shift;
        return new LoadedModel(ModelFamily.SENSEFLOW, spec.isFewStep(), f.dir(), name, prompts, generator, decoder, encoder,
                scheduler, mode, defaults, details, ctx.runtime());
    }

    private static Autoencoder.Config decoderConfig(Path path) {
        OnnxModel graph = OnnxModel.read(path);
        Autoencoder.Config c = Autoencoder.Config.fromMetadata(graph.metadata(), "vae_decoder/model.onnx");
        String part = graph.metadata().get(io.senseflow.onnx.arch.ArchitectureMetadata.COMPONENT);
        if (!Autoencoder.Part.DECODER.id().equals(part)) {
            throw new ModelLoadException("vae_decoder/model.onnx: metadata " + io.senseflow.onnx.arch.ArchitectureMetadata.COMPONENT
                    + ": expected decoder, got " + part);
        }
        return c;
    }

    static GuidanceMode guidance(JsonObject index, SchedulerSpec spec) {
        Optional<String> g = ModelFolder.string(index, "guidance", ModelFolder.INDEX);
        if (g.isEmpty()) {
            return spec.isFewStep() ? GuidanceMode.NONE : GuidanceMode.CFG;
        }
        try {
            return GuidanceMode.valueOf(g.get().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ModelLoadException(ModelFolder.INDEX + ": guidance: expected none, cfg or embedded, got " + g.get());
        }
    }

    private static ModelDefaults defaults(JsonObject index, SchedulerSpec spec, GuidanceMode mode, Autoencoder.Config ac) {
        int steps = spec.isFewStep() ? spec.anchors().length : 28;
        double guidance = mode == GuidanceMode.NONE ? 0 : 4.5;
        int width = ac.imageWidth();
        int height = ac.imageHeight();
        if (index.has("defaults")) {
            try {
                JsonObject d = index.getObject("defaults");
                d.requireOnly(java.util.Set.of("steps", "guidance_scale", "width", "height"));
                steps = d.getInt("steps", steps);
                guidance = d.getDouble("guidance_scale", guidance);
                width = d.getInt("width", width);
                height = d.getInt("height", height);
                return new ModelDefaults(steps, guidance, width, height);
            } catch (JsonException | InvalidRequestException e) {
                throw new ModelLoadException(ModelFolder.INDEX + ": defaults: " + e.getMessage(), e);
            }
        }
        return new ModelDefaults(steps, guidance, width, height);
    }
}
