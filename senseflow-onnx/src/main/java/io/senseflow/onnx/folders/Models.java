package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.lora.LoraAdapterFile;
import io.senseflow.onnx.runtime.OrtRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one entry point for model folders: {@code Models.load(dir)} reads an Optimum-style export of SD3/SD3.5, FLUX.1
 * or SDXL, or a folder in the SDK's own layout, and returns a {@link LoadedModel} that owns the ONNX Runtime sessions
 * and builds the {@link io.senseflow.pipeline.TextToImagePipeline}.
 *
 * <p>The family comes from {@link LoadOptions#family()} if set, else from {@code model_index.json}
 * ({@code "family": "senseflow"}, or diffusers' {@code _class_name}: {@code StableDiffusion3Pipeline},
 * {@code FluxPipeline}, {@code StableDiffusionXLPipeline}), else from the folders ({@code unet/}: SDXL;
 * {@code transformer/} with {@code text_encoder_3/}: SD3; with {@code text_encoder_2/} only: FLUX). A SenseFlow
 * checkpoint is marked by {@code "senseflow_checkpoint": true} in {@code model_index.json} or by
 * {@link LoadOptions#senseflowCheckpoint()}. See {@code docs/models.md}, "Model folder layouts".
 *
 * <p>Everything is checked at load time: missing components, unreadable or corrupt files, and shapes that do not fit
 * together (latent channels between the denoiser and the VAE, text widths between encoders and denoiser) are
 * {@link ModelLoadException}s naming the file.
 *
 * <p>LoRA: {@link LoadOptions.Builder#adapters} folds an adapter file (the base + adapters export of a LoRA
 * distillation) into the denoiser's weights before its session is created; loading a teacher folder with the adapters
 * of a run gives the same images as loading that run's merged export (docs/distillation.md, "LoRA").
 *
 * <p>Stateless: {@code load} may be called from several threads at once; each call returns its own LoadedModel, with
 * its own runtime.
 */
public final class Models {
    private static final Logger LOG = LoggerFactory.getLogger(Models.class);

    private Models() {
    }

    /** @param dir a model folder @return the loaded model, with {@link LoadOptions#defaults()} */
    public static LoadedModel load(Path dir) {
        return load(dir, LoadOptions.defaults());
    }

    /**
     * @param dir a model folder
     * @param options how to read it
     * @return the loaded model; close it when done
     * @throws ModelLoadException naming the file or setting when the folder cannot be loaded
     */
    public static LoadedModel load(Path dir, LoadOptions options) {
        Objects.requireNonNull(options, "options");
        ModelFolder folder = ModelFolder.open(dir);
        for (String component : options.weights().keySet()) {
            if (!folder.hasModel(component)) {
                throw new ModelLoadException("LoadOptions.weights names component '" + component + "', but " + folder.dir()
                        + " has no " + component + "/" + ModelFolder.MODEL_FILE);
            }
        }
        // the adapter file is read and checked before any session starts
        LoraAdapterFile adapters = options.adapters().map(LoraAdapterFile::read).orElse(null);
        ModelFamily family = options.family().orElseGet(() -> detect(folder));
        boolean senseflow = options.senseflowCheckpoint()
                .or(() -> ModelFolder.bool(folder.index(), "senseflow_checkpoint", ModelFolder.INDEX))
                .orElse(false);
        OrtRuntime runtime = OrtRuntime.create(options.sessionConfig());
        LayoutContext ctx = new LayoutContext(folder, options, runtime, adapters);
        try {
            LoadedModel model = switch (family) {
                case SD3 -> Sd3Layout.load(ctx, senseflow);
                case FLUX -> FluxLayout.load(ctx, senseflow);
                case SDXL -> SdxlLayout.load(ctx, senseflow);
                case SENSEFLOW -> SenseFlowLayout.load(ctx, options.senseflowCheckpoint());
            };
            LOG.info("loaded {}{}", model.describe(), adapters == null ? "" : "; denoiser with LoRA adapters " + adapters);
            return model;
        } catch (RuntimeException | Error e) {
            ctx.closeQuietly(e);
            try {
                runtime.close();
            } catch (RuntimeException closing) {
                e.addSuppressed(closing);
            }
            if (e instanceof InvalidRequestException bad) {
                // a configuration value the api refused: still a problem of the folder
                throw new ModelLoadException(folder.dir() + ": " + bad.getMessage(), bad);
            }
            throw e;
        }
    }

    /**
     * @param dir a model folder
     * @return the family its {@code model_index.json} or folders indicate
     * @throws ModelLoadException if they indicate none
     */
    public static ModelFamily detectFamily(Path dir) {
        return detect(ModelFolder.open(dir));
    }

    static ModelFamily detect(ModelFolder f) {
        Optional<String> family = ModelFolder.string(f.index(), "family", ModelFolder.INDEX);
        if (family.isPresent()) {
            try {
                return ModelFamily.fromId(family.get());
            } catch (InvalidRequestException e) {
                throw new ModelLoadException(ModelFolder.INDEX + ": " + e.getMessage(), e);
            }
        }
        Optional<String> cls = ModelFolder.string(f.index(), "_class_name", ModelFolder.INDEX);
        if (cls.isPresent()) {
            String c = cls.get().toLowerCase(Locale.ROOT);
            if (c.contains("stablediffusion3")) {
                return ModelFamily.SD3;
            }
            if (c.contains("flux")) {
                return ModelFamily.FLUX;
            }
            if (c.contains("stablediffusionxl")) {
                return ModelFamily.SDXL;
            }
            if (c.contains("senseflow")) {
                return ModelFamily.SENSEFLOW;
            }
        }
        if (f.hasFolder("unet") && f.hasFolder("text_encoder_2")) {
            return ModelFamily.SDXL;
        }
        if (f.hasFolder("transformer") && f.hasFolder("text_encoder_3")) {
            return ModelFamily.SD3;
        }
        if (f.hasFolder("transformer") && f.hasFolder("text_encoder_2")) {
            return ModelFamily.FLUX;
        }
        throw new ModelLoadException("cannot tell which model family " + f.dir() + " holds: "
                + (f.hasIndex() ? ModelFolder.INDEX + " names " + cls.map(c -> "_class_name " + c).orElse("no _class_name")
                        + " and no family" : "it has no " + ModelFolder.INDEX)
                + ", and its folders are " + folders(f.dir()) + ". Expected an Optimum export of SD3/SD3.5, FLUX.1 or SDXL "
                + "or a SenseFlow folder; set LoadOptions.family (CLI: --family sd3|flux|sdxl|senseflow) to choose");
    }

    private static List<String> folders(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName() + "/").sorted().toList();
        } catch (IOException e) {
            return List.of("(unreadable: " + e + ")");
        }
    }
}
