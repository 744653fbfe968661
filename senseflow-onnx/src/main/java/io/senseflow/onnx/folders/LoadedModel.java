package io.senseflow.onnx.folders;

import io.senseflow.model.Generator;
import io.senseflow.model.ImageDecoder;
import io.senseflow.model.ImageEncoder;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.PromptEncoder;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.schedule.Scheduler;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A model folder loaded by {@link Models#load}: its components in ONNX Runtime, assembled into a
 * {@link TextToImagePipeline} with the family's conventions (text encoding, timestep scale, latent packing, VAE scaling,
 * scheduler, guidance). Owns every native resource it loaded: close it (try-with-resources) and everything goes,
 * the pipeline included.
 *
 * <pre>{@code
 * try (LoadedModel model = Models.load(Path.of("sd3.5-medium-onnx"))) {
 *     GenerationResult r = model.pipeline().generate(GenerationRequest.builder()
 *             .prompt("a red fox in the snow").seed(7).build());
 *     r.images().get(0).writePng(Path.of("fox.png"));
 * }
 * }</pre>
 *
 * <p>Thread-safe: the pipeline may be used from several threads at once.
 */
public final class LoadedModel implements AutoCloseable {
    private final ModelFamily family;
    private final boolean senseflowCheckpoint;
    private final Path folder;
    private final TextToImagePipeline pipeline;
    private final PromptEncoder promptEncoder;
    private final Generator generator;
    private final ImageDecoder decoder;
    private final ImageEncoder imageEncoder;
    private final GuidanceMode guidanceMode;
    private final String details;
    private final OrtRuntime runtime;
    private boolean closed;

    LoadedModel(ModelFamily family, boolean senseflowCheckpoint, Path folder, String name, PromptEncoder promptEncoder,
                Generator generator, ImageDecoder decoder, ImageEncoder imageEncoder, Scheduler scheduler,
                GuidanceMode guidanceMode, ModelDefaults defaults, String details, OrtRuntime runtime) {
        this.family = family;
        this.senseflowCheckpoint = senseflowCheckpoint;
        this.folder = folder;
        this.promptEncoder = promptEncoder;
        this.generator = generator;
        this.decoder = decoder;
        this.imageEncoder = imageEncoder;
        this.guidanceMode = guidanceMode;
        this.details = details;
        this.runtime = runtime;
        this.pipeline = TextToImagePipeline.builder()
                .modelName(name)
                .promptEncoder(promptEncoder)
                .generator(generator)
                .decoder(decoder)
                .scheduler(scheduler)
                .guidanceMode(guidanceMode)
                .defaults(defaults)
                .closing(promptEncoder, generator, decoder)
                .build();
    }

    /** @return the layout the folder was read as */
    public ModelFamily family() {
        return family;
    }

    /** @return whether the weights were taken as a distilled SenseFlow generator (few-step anchors, no CFG) */
    public boolean senseflowCheckpoint() {
        return senseflowCheckpoint;
    }

    /** @return the model folder */
    public Path folder() {
        return folder;
    }

    /** @return the model's name (the folder's name), as written into PNG metadata */
    public String name() {
        return pipeline.modelName();
    }

    /** @return the text-to-image pipeline; closed with this model */
    public TextToImagePipeline pipeline() {
        return pipeline;
    }

    /** @return the text side (tokenizers and encoders with the family's conventions) */
    public PromptEncoder promptEncoder() {
        return promptEncoder;
    }

    /** @return the denoiser in the flow convention (SDXL's UNet is wrapped by an {@code EpsilonToFlowAdapter}) */
    public Generator generator() {
        return generator;
    }

    /** @return latents to images, VAE scaling and shift included */
    public ImageDecoder decoder() {
        return decoder;
    }

    /** @return images to latents, when the folder has a {@code vae_encoder} (and it was not switched off) */
    public Optional<ImageEncoder> imageEncoder() {
        return Optional.ofNullable(imageEncoder);
    }

    /** @return the latent geometry */
    public LatentFormat latentFormat() {
        return generator.latentFormat();
    }

    /** @return the default scheduler */
    public Scheduler scheduler() {
        return pipeline.scheduler();
    }

    /** @return how the model takes guidance */
    public GuidanceMode guidanceMode() {
        return guidanceMode;
    }

    /** @return the defaults for what requests leave unset */
    public ModelDefaults defaults() {
        return pipeline.defaults();
    }

    /** @return the runtime the components run in (for {@code executionInfo()} of its models) */
    public OrtRuntime runtime() {
        return runtime;
    }

    /** @return a one-line description of the loaded conventions, for logs */
    public String describe() {
        return family.id() + (senseflowCheckpoint ? " (SenseFlow checkpoint)" : "") + " from " + folder + ": " + details
                + "; latents " + latentFormat() + ", scheduler " + scheduler() + ", guidance " + guidanceMode
                + ", defaults " + defaults();
    }

    @Override
    public String toString() {
        return "LoadedModel{" + describe() + (closed ? ", closed" : "") + "}";
    }

    /** Closes the pipeline (and with it the encoders, generator and decoder), the image encoder and the runtime. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        AutoCloseable[] parts = {pipeline, imageEncoder, runtime};
        for (AutoCloseable c : parts) {
            if (c == null) {
                continue;
            }
            try {
                c.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e instanceof RuntimeException r ? r : new io.senseflow.BackendException("closing " + c + " failed", e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
