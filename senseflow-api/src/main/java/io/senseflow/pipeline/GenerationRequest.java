package io.senseflow.pipeline;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.NoiseKey;
import io.senseflow.noise.NoiseSource;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One text-to-image request, in diffusers' vocabulary. Immutable; build with {@link #builder()}. Unset optional
 * values take the model's defaults. Checks that need no model happen in {@link Builder#build()}; checks against
 * the model (image size multiple, latent channels) happen when the pipeline runs.
 *
 * <p>Noise: sample {@code i} (prompt-major, then image within the prompt) uses {@link NoiseKey}
 * {@code (seed, i)} unless explicit {@link Builder#noiseKeys keys} are given; a batch therefore reproduces the
 * same images as single requests with the matching keys. With {@link Builder#noiseSource noiseSource(TORCH)} the
 * noise instead follows PyTorch's CPU generator seeded with {@link #seed()}, one draw of the whole batch as diffusers
 * makes it (see {@link NoiseSource#TORCH}); explicit keys are refused then.
 *
 * <p>Immutable (build with its Builder, which is not thread-safe): safe to share between threads.
 */
public final class GenerationRequest {
    private final List<String> prompts;
    private final List<String> negativePrompts;
    private final Integer numInferenceSteps;
    private final double[] sigmas;
    private final Double guidanceScale;
    private final long seed;
    private final List<NoiseKey> noiseKeys;
    private final Integer width;
    private final Integer height;
    private final int imagesPerPrompt;
    private final Tensor latents;
    private final boolean decode;
    private final NoiseSource noiseSource;

    private GenerationRequest(Builder b) {
        this.prompts = List.copyOf(b.prompts);
        this.negativePrompts = List.copyOf(b.negativePrompts);
        this.numInferenceSteps = b.numInferenceSteps;
        this.sigmas = b.sigmas == null ? null : b.sigmas.clone();
        this.guidanceScale = b.guidanceScale;
        this.seed = b.seed;
        this.noiseKeys = b.noiseKeys == null ? null : List.copyOf(b.noiseKeys);
        this.width = b.width;
        this.height = b.height;
        this.imagesPerPrompt = b.imagesPerPrompt;
        this.latents = b.latents;
        this.decode = b.decode;
        this.noiseSource = b.noiseSource;
    }

    /** @return a new builder */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder starting from this request's values */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.prompts = new ArrayList<>(prompts);
        b.negativePrompts = new ArrayList<>(negativePrompts);
        b.numInferenceSteps = numInferenceSteps;
        b.sigmas = sigmas == null ? null : sigmas.clone();
        b.guidanceScale = guidanceScale;
        b.seed = seed;
        b.noiseKeys = noiseKeys == null ? null : new ArrayList<>(noiseKeys);
        b.width = width;
        b.height = height;
        b.imagesPerPrompt = imagesPerPrompt;
        b.latents = latents;
        b.decode = decode;
        b.noiseSource = noiseSource;
        return b;
    }

    /** @return the prompts, at least one */
    public List<String> prompts() {
        return prompts;
    }

    /** @return one negative prompt per prompt (empty strings where none was given) */
    public List<String> negativePrompts() {
        if (negativePrompts.isEmpty()) {
            return java.util.Collections.nCopies(prompts.size(), "");
        }
        if (negativePrompts.size() == 1) {
            return java.util.Collections.nCopies(prompts.size(), negativePrompts.get(0));
        }
        return negativePrompts;
    }

    /** @return the step count, if set */
    public Optional<Integer> numInferenceSteps() {
        return Optional.ofNullable(numInferenceSteps);
    }

    /** @return explicit sigmas, if set (a copy) */
    public Optional<double[]> sigmas() {
        return Optional.ofNullable(sigmas == null ? null : sigmas.clone());
    }

    /** @return the guidance scale, if set */
    public Optional<Double> guidanceScale() {
        return Optional.ofNullable(guidanceScale);
    }

    /** @return the seed */
    public long seed() {
        return seed;
    }

    /** @return the total number of images: prompts times images per prompt */
    public int batchSize() {
        return prompts.size() * imagesPerPrompt;
    }

    /** @return the noise key of every sample, explicit or derived from the seed */
    public List<NoiseKey> effectiveNoiseKeys() {
        if (noiseKeys != null) {
            return noiseKeys;
        }
        List<NoiseKey> keys = new ArrayList<>(batchSize());
        for (int i = 0; i < batchSize(); i++) {
            keys.add(new NoiseKey(seed, i));
        }
        return keys;
    }

    /** @return the width in pixels, if set */
    public Optional<Integer> width() {
        return Optional.ofNullable(width);
    }

    /** @return the height in pixels, if set */
    public Optional<Integer> height() {
        return Optional.ofNullable(height);
    }

    /** @return images per prompt */
    public int imagesPerPrompt() {
        return imagesPerPrompt;
    }

    /** @return initial noise to use instead of the seeded noise, if set */
    public Optional<Tensor> latents() {
        return Optional.ofNullable(latents);
    }

    /** @return whether to decode the final latents into images */
    public boolean decode() {
        return decode;
    }

    /** @return where the noise comes from ({@link NoiseSource#COUNTER} unless set) */
    public NoiseSource noiseSource() {
        return noiseSource;
    }

    /** Builder for {@link GenerationRequest}. */
    public static final class Builder {
        private List<String> prompts = new ArrayList<>();
        private List<String> negativePrompts = new ArrayList<>();
        private Integer numInferenceSteps;
        private double[] sigmas;
        private Double guidanceScale;
        private long seed;
        private List<NoiseKey> noiseKeys;
        private Integer width;
        private Integer height;
        private int imagesPerPrompt = 1;
        private Tensor latents;
        private boolean decode = true;
        private NoiseSource noiseSource = NoiseSource.COUNTER;

        private Builder() {
        }

        /** @param prompt a single prompt @return this */
        public Builder prompt(String prompt) {
            this.prompts = new ArrayList<>(List.of(Objects.requireNonNull(prompt, "prompt")));
            return this;
        }

        /** @param list several prompts, one sample (or {@code imagesPerPrompt}) each @return this */
        public Builder prompts(List<String> list) {
            this.prompts = new ArrayList<>(list);
            return this;
        }

        /** @param negative one negative prompt for every prompt @return this */
        public Builder negativePrompt(String negative) {
            this.negativePrompts = new ArrayList<>(List.of(Objects.requireNonNull(negative, "negativePrompt")));
            return this;
        }

        /** @param list one negative prompt per prompt @return this */
        public Builder negativePrompts(List<String> list) {
            this.negativePrompts = new ArrayList<>(list);
            return this;
        }

        /** @param steps number of sampling steps @return this */
        public Builder numInferenceSteps(int steps) {
            this.numInferenceSteps = steps;
            return this;
        }

        /** @param values explicit noise levels (terminal 0 appended unless present); overrides the step count @return this */
        public Builder sigmas(double... values) {
            this.sigmas = values.clone();
            return this;
        }

        /** @param scale the guidance scale @return this */
        public Builder guidanceScale(double scale) {
            this.guidanceScale = scale;
            return this;
        }

        /** @param value the seed @return this */
        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        /** @param keys one noise key per sample, overriding the seed @return this */
        public Builder noiseKeys(List<NoiseKey> keys) {
            this.noiseKeys = new ArrayList<>(keys);
            return this;
        }

        /** @param pixels image width @return this */
        public Builder width(int pixels) {
            this.width = pixels;
            return this;
        }

        /** @param pixels image height @return this */
        public Builder height(int pixels) {
            this.height = pixels;
            return this;
        }

        /** @param count images per prompt @return this */
        public Builder imagesPerPrompt(int count) {
            this.imagesPerPrompt = count;
            return this;
        }

        /** @param noise initial noise {@code [B, C, h, w]} used instead of the seeded noise @return this */
        public Builder latents(Tensor noise) {
            this.latents = noise;
            return this;
        }

        /**
         * @param source {@link NoiseSource#COUNTER} (the default: per-sample keys) or {@link NoiseSource#TORCH}
         *     (PyTorch's CPU generator seeded with the seed, as diffusers draws it)
         * @return this
         */
        public Builder noiseSource(NoiseSource source) {
            this.noiseSource = Objects.requireNonNull(source, "noiseSource");
            return this;
        }

        /** @param value false to return latents only @return this */
        public Builder decode(boolean value) {
            this.decode = value;
            return this;
        }

        /**
         * Validates what can be checked without a model.
         *
         * @return the request
         * @throws InvalidRequestException naming the field
         */
        public GenerationRequest build() {
            if (prompts.isEmpty()) {
                throw InvalidRequestException.of("prompts", "at least one prompt", "an empty list");
            }
            for (int i = 0; i < prompts.size(); i++) {
                if (prompts.get(i) == null) {
                    throw InvalidRequestException.of("prompts[" + i + "]", "a string", "null");
                }
            }
            if (!negativePrompts.isEmpty() && negativePrompts.size() != 1 && negativePrompts.size() != prompts.size()) {
                throw InvalidRequestException.of("negativePrompts", "1 or " + prompts.size() + " entries", negativePrompts.size());
            }
            if (numInferenceSteps != null && numInferenceSteps < 1) {
                throw InvalidRequestException.of("numInferenceSteps", "at least 1", numInferenceSteps);
            }
            if (sigmas != null) {
                io.senseflow.schedule.SigmaSchedule.of(sigmas); // validates, throws naming "sigmas"
                if (sigmas[0] == 0) {
                    throw InvalidRequestException.of("sigmas", "a positive first level", Arrays.toString(sigmas));
                }
            }
            if (guidanceScale != null && !(guidanceScale >= 0 && Double.isFinite(guidanceScale))) {
                throw InvalidRequestException.of("guidanceScale", "a finite value >= 0", guidanceScale);
            }
            if (imagesPerPrompt < 1) {
                throw InvalidRequestException.of("imagesPerPrompt", "at least 1", imagesPerPrompt);
            }
            if (width != null && width < 1) {
                throw InvalidRequestException.of("width", "a positive number of pixels", width);
            }
            if (height != null && height < 1) {
                throw InvalidRequestException.of("height", "a positive number of pixels", height);
            }
            int n = prompts.size() * imagesPerPrompt;
            if (noiseKeys != null && noiseKeys.size() != n) {
                throw InvalidRequestException.of("noiseKeys", n + " keys (prompts x imagesPerPrompt)", noiseKeys.size());
            }
            if (noiseKeys != null && noiseSource == NoiseSource.TORCH) {
                throw InvalidRequestException.of("noiseKeys", "no explicit keys with the torch noise source (it draws "
                        + "the whole batch from one generator seeded with seed)", noiseKeys.size() + " keys");
            }
            if (latents != null) {
                if (latents.rank() != 4 || latents.batch() != n) {
                    throw InvalidRequestException.of("latents", "a [" + n + ", C, h, w] tensor", Arrays.toString(latents.shape()));
                }
                int bad = latents.countNonFinite();
                if (bad > 0) {
                    throw InvalidRequestException.of("latents", "finite values", bad + " NaN or infinite elements");
                }
            }
            return new GenerationRequest(this);
        }
    }
}
