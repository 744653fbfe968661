package io.senseflow.pipeline;

import io.senseflow.CancelledException;
import io.senseflow.InvalidRequestException;
import io.senseflow.NumericalException;
import io.senseflow.SenseFlowException;
import io.senseflow.image.Image;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.ImageDecoder;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.PromptEncoder;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.NoiseKey;
import io.senseflow.noise.NoiseSource;
import io.senseflow.noise.Streams;
import io.senseflow.noise.TorchGenerator;
import io.senseflow.schedule.SamplingMode;
import io.senseflow.schedule.Scheduler;
import io.senseflow.schedule.SigmaSchedule;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Text to image, engine-free: tokenize and encode the prompts, draw the seeded initial noise (the SDK's counter-based
 * noise, or PyTorch's CPU generator when the request asks for {@link NoiseSource#TORCH}), run the
 * scheduler loop over the generator (classifier-free guidance batched as {@code [uncond; cond]} when on),
 * decode, and return images with their settings and timings.
 *
 * <p>Thread-safe when its components are (the ONNX Runtime components and the tokenizers are): the pipeline holds no
 * per-request state, so any number of threads may call {@link #generate} at once, and each request's result is
 * bit-identical to running it alone (tested with 8 threads, docs/reliability.md).
 *
 * <p>Every intermediate value is checked: text encoder outputs, the generator's output and the latents after each
 * step, and the decoder's output; a NaN or infinity stops the request with a {@link NumericalException} naming the
 * stage, the step and the tensor.
 *
 * <p>Closing it closes the components it was built with ({@link Builder#closing}); closing twice does nothing, and
 * {@link #generate} after {@link #close()} throws {@link IllegalStateException}.
 */
public final class TextToImagePipeline implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TextToImagePipeline.class);

    private final String modelName;
    private final PromptEncoder promptEncoder;
    private final Generator generator;
    private final ImageDecoder decoder;
    private final Scheduler scheduler;
    private final GuidanceMode guidanceMode;
    private final ModelDefaults defaults;
    private final List<AutoCloseable> owned;
    private final NoisePrefetch prefetch;
    private volatile boolean closed;

    private TextToImagePipeline(Builder b) {
        this.modelName = b.modelName;
        this.promptEncoder = b.promptEncoder;
        this.generator = b.generator;
        this.decoder = b.decoder;
        this.scheduler = b.scheduler;
        this.guidanceMode = b.guidanceMode;
        this.defaults = b.defaults;
        this.owned = List.copyOf(b.owned);
        this.prefetch = new NoisePrefetch(b.prefetchNoise);
    }

    /** @return a new builder */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the model's name */
    public String modelName() {
        return modelName;
    }

    /** @return the scheduler used when a request does not override it */
    public Scheduler scheduler() {
        return scheduler;
    }

    /** @return the defaults for unset request fields */
    public ModelDefaults defaults() {
        return defaults;
    }

    /** @return the generator's latent geometry */
    public LatentFormat latentFormat() {
        return generator.latentFormat();
    }

    /** @param request the request @return images and settings */
    public GenerationResult generate(GenerationRequest request) {
        return generate(request, ProgressListener.none(), CancellationToken.none());
    }

    /**
     * Runs one request.
     *
     * @param request the request
     * @param listener called after every step
     * @param cancellation checked before every step and before decoding
     * @return images, final latents, effective settings and timings
     * @throws InvalidRequestException if the request does not fit the model
     * @throws CancelledException if cancelled
     * @throws NumericalException if a NaN or infinity appears (the message names the stage, step and tensor)
     * @throws IllegalStateException after {@link #close()}
     */
    public GenerationResult generate(GenerationRequest request, ProgressListener listener, CancellationToken cancellation) {
        Objects.requireNonNull(request, "request");
        if (closed) {
            throw new IllegalStateException("TextToImagePipeline " + modelName + " is closed");
        }
        LatentFormat format = generator.latentFormat();
        int width = request.width().orElse(defaults.width());
        int height = request.height().orElse(defaults.height());
        int multiple = format.pixelMultiple();
        if (width % multiple != 0) {
            throw InvalidRequestException.of("width", "a multiple of " + multiple + " (VAE factor " + format.downsample()
                    + " x patch " + format.patchSize() + ")", width);
        }
        if (height % multiple != 0) {
            throw InvalidRequestException.of("height", "a multiple of " + multiple + " (VAE factor " + format.downsample()
                    + " x patch " + format.patchSize() + ")", height);
        }
        int n = request.batchSize();
        int[] latentShape = format.latentShape(n, width, height);
        request.latents().ifPresent(l -> {
            if (!Arrays.equals(l.shape(), latentShape)) {
                throw InvalidRequestException.of("latents", "shape " + Arrays.toString(latentShape) + " for " + width + "x"
                        + height + " with " + format.channels() + " latent channels", Arrays.toString(l.shape()));
            }
        });
        double guidance = request.guidanceScale().orElse(defaults.guidanceScale());
        boolean cfg = guidanceMode == GuidanceMode.CFG && guidance > 1;
        if (guidanceMode == GuidanceMode.NONE && request.guidanceScale().isPresent() && guidance != defaults.guidanceScale()) {
            LOG.warn("{} takes no guidance (distilled in); guidanceScale {} is ignored", modelName, guidance);
        }
        SigmaSchedule schedule = request.sigmas().isPresent()
                ? scheduler.timesteps(request.sigmas().get())
                : scheduler.timesteps(request.numInferenceSteps().orElse(defaults.steps()), format.imageTokens(width, height));

        List<NoiseKey> keys = request.effectiveNoiseKeys();
        NoiseKey[] keyArray = keys.toArray(new NoiseKey[0]);

        // the initial noise is drawn on the helper thread while the text encoder runs (same bits: it is a pure
        // function of the keys); torch noise is one stateful generator, drawn in diffusers' order on this thread
        TorchGenerator torch = request.noiseSource() == NoiseSource.TORCH ? new TorchGenerator(request.seed()) : null;
        Supplier<Tensor> initialNoise = request.latents().isPresent() || torch != null ? null
                : prefetch.start(() -> GaussianNoise.sample(keyArray, Streams.INITIAL_NOISE, latentShape));

        // 1. text
        long t0 = System.nanoTime();
        Conditioning cond = promptEncoder.encode(request.prompts()).repeatEach(request.imagesPerPrompt());
        if (cfg) {
            Conditioning uncond = promptEncoder.encodeNegative(request.negativePrompts()).repeatEach(request.imagesPerPrompt());
            cond = Conditioning.concat(uncond, cond);
        } else if (guidanceMode == GuidanceMode.EMBEDDED) {
            cond = cond.withExtra("guidance", Tensor.full((float) guidance, n));
        }
        requireFinite(cond, "before step 1 of " + schedule.numSteps());
        long t1 = System.nanoTime();

        // 2. denoise
        // torch noise: one generator per request, the initial noise first, step noise after it (diffusers' order)
        Tensor eps = request.latents().orElseGet(() -> torch != null ? torch.randn(latentShape) : initialNoise.get());
        Tensor x = generator.pureNoiseState(eps, schedule.sigma(0));
        int steps = schedule.numSteps();
        long[] stepNanos = new long[steps];
        for (int k = 0; k < steps; k++) {
            if (cancellation.isCancelled()) {
                throw new CancelledException("generation cancelled before step " + (k + 1) + " of " + steps);
            }
            long s0 = System.nanoTime();
            float sigma = (float) schedule.sigma(k);
            final int step = k;
            Supplier<Tensor> stepNoise = () -> torch != null ? torch.randn(latentShape)
                    : GaussianNoise.sample(keyArray, Streams.stepNoise(step), latentShape);
            if (torch == null && scheduler.mode() == SamplingMode.STOCHASTIC && schedule.sigma(k + 1) > 0) {
                // the re-noising after this step will ask for it: draw it while the model runs
                stepNoise = prefetch.start(stepNoise);
            }
            Tensor v = velocity(x, sigma, cond, cfg, (float) guidance);
            String position = "step " + (k + 1) + " of " + steps + " (sigma " + sigma + ")";
            requireFinite(v, "generation: denoise", position, "generator output (velocity)");
            x = scheduler.step(x, v, schedule, k, stepNoise);
            requireFinite(x, "generation: denoise", position, "latents after the scheduler step");
            stepNanos[k] = System.nanoTime() - s0;
            listener.onStep(new ProgressListener.Step(k + 1, steps, schedule.sigma(k + 1), System.nanoTime() - t1, x));
        }
        long t2 = System.nanoTime();

        // 3. decode
        GenerationSettings settings = new GenerationSettings(modelName, request.prompts(), request.negativePrompts(),
                schedule.sigmas(), guidance, cfg ? GuidanceMode.CFG : guidanceMode, keys, width, height,
                request.imagesPerPrompt(), scheduler.toString(), request.noiseSource());
        List<Image> images = new ArrayList<>();
        if (request.decode() && decoder != null) {
            if (cancellation.isCancelled()) {
                throw new CancelledException("generation cancelled before decoding (after step " + steps + " of " + steps + ")");
            }
            Tensor pixels = decoder.decode(x);
            requireFinite(pixels, "generation: decode", "after step " + steps + " of " + steps, "decoder output (pixels)");
            for (int i = 0; i < n; i++) {
                images.add(Image.fromTensor(pixels, i, settings.metadataFor(i)));
            }
        }
        long t3 = System.nanoTime();
        return new GenerationResult(images, x, settings, new StageTimings(t1 - t0, t2 - t1, t3 - t2, stepNanos));
    }

    private static void requireFinite(Tensor t, String stage, String position, String tensor) {
        int bad = t.countNonFinite();
        if (bad > 0) {
            throw NumericalException.nonFinite(stage, position, tensor, "has " + bad + " NaN/Inf of " + t.size() + " values");
        }
    }

    private static void requireFinite(Conditioning c, String position) {
        String stage = "generation: text encoding";
        requireFinite(c.tokens(), stage, position, "text encoder output (token embeddings)");
        if (c.pooled() != null) {
            requireFinite(c.pooled(), stage, position, "text encoder output (pooled embedding)");
        }
        c.extras().forEach((name, t) -> requireFinite(t, stage, position, "conditioning extra '" + name + "'"));
    }

    private Tensor velocity(Tensor x, float sigma, Conditioning cond, boolean cfg, float guidance) {
        int n = x.batch();
        if (!cfg) {
            float[] s = new float[n];
            Arrays.fill(s, sigma);
            return generator.velocity(x, s, cond);
        }
        float[] s = new float[2 * n];
        Arrays.fill(s, sigma);
        Tensor both = generator.velocity(Tensor.concatBatch(x, x), s, cond);
        Tensor uncond = both.sliceBatch(0, n);
        Tensor condV = both.sliceBatch(n, 2 * n);
        // v = v_u + w (v_c - v_u)
        return Tensor.combine(1 - guidance, uncond, guidance, condV);
    }

    /** Closes the components handed to the builder with ownership. Closing twice does nothing. */
    @Override
    public void close() {
        synchronized (owned) {
            if (closed) {
                return;
            }
            closed = true;
        }
        prefetch.close();
        SenseFlowException failure = null;
        for (AutoCloseable c : owned) {
            try {
                c.close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = new SenseFlowException("closing pipeline component " + c + " failed", e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** Builder for {@link TextToImagePipeline}. */
    public static final class Builder {
        private String modelName = "unnamed";
        private PromptEncoder promptEncoder;
        private Generator generator;
        private ImageDecoder decoder;
        private Scheduler scheduler;
        private GuidanceMode guidanceMode = GuidanceMode.CFG;
        private ModelDefaults defaults;
        private boolean prefetchNoise = true;
        private final List<AutoCloseable> owned = new ArrayList<>();

        private Builder() {
        }

        /** @param name shown in settings and PNG metadata @return this */
        public Builder modelName(String name) {
            this.modelName = Objects.requireNonNull(name);
            return this;
        }

        /** @param encoder the text side @return this */
        public Builder promptEncoder(PromptEncoder encoder) {
            this.promptEncoder = encoder;
            return this;
        }

        /** @param gen the denoiser @return this */
        public Builder generator(Generator gen) {
            this.generator = gen;
            return this;
        }

        /** @param dec latents to images; null for latents-only pipelines @return this */
        public Builder decoder(ImageDecoder dec) {
            this.decoder = dec;
            return this;
        }

        /** @param s the default scheduler @return this */
        public Builder scheduler(Scheduler s) {
            this.scheduler = s;
            return this;
        }

        /** @param mode how the model takes guidance @return this */
        public Builder guidanceMode(GuidanceMode mode) {
            this.guidanceMode = Objects.requireNonNull(mode);
            return this;
        }

        /**
         * Whether the pipeline draws its counter-based noise on a helper thread while the model runs (default
         * true; ignored with fewer than two processors). The noise, and so every output, is the same bits either
         * way; only where the time goes differs.
         *
         * @param prefetch false to draw every noise tensor on the calling thread when the scheduler asks for it
         * @return this
         */
        public Builder prefetchNoise(boolean prefetch) {
            this.prefetchNoise = prefetch;
            return this;
        }

        /** @param d defaults for unset request fields @return this */
        public Builder defaults(ModelDefaults d) {
            this.defaults = d;
            return this;
        }

        /**
         * Hands components over: {@link TextToImagePipeline#close()} closes them in the given order.
         *
         * @param resources the components to own
         * @return this
         */
        public Builder closing(AutoCloseable... resources) {
            owned.addAll(Arrays.asList(resources));
            return this;
        }

        /** @return the pipeline */
        public TextToImagePipeline build() {
            if (promptEncoder == null) {
                throw InvalidRequestException.of("promptEncoder", "a prompt encoder", "none");
            }
            if (generator == null) {
                throw InvalidRequestException.of("generator", "a generator", "none");
            }
            if (scheduler == null) {
                throw InvalidRequestException.of("scheduler", "a scheduler", "none");
            }
            if (defaults == null) {
                throw InvalidRequestException.of("defaults", "model defaults (steps, guidance, size)", "none");
            }
            return new TextToImagePipeline(this);
        }
    }
}
