package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.runtime.SessionConfig;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How {@link Models#load} reads a model folder. Immutable; every setting is optional:
 *
 * <ul>
 *   <li>{@link Builder#family} — the layout, instead of detecting it from {@code model_index.json} and the folders;</li>
 *   <li>{@link Builder#senseflowCheckpoint} — whether the weights are a distilled SenseFlow generator (few-step anchors,
 *       no classifier-free guidance), instead of the {@code senseflow_checkpoint} marker in {@code model_index.json};</li>
 *   <li>{@link Builder#t5SequenceLength} — T5 tokens per prompt, instead of the preset (SD3: 256, a SenseFlow SD3.5
 *       checkpoint 77; FLUX: 512, FLUX.1-schnell 256) or the {@code max_sequence_length} of {@code model_index.json};</li>
 *   <li>{@link Builder#sessionConfig} — threads and execution provider (CUDA falls back to CPU with one warning);</li>
 *   <li>{@link Builder#weights} — a safetensors file whose tensors replace a component's initializers (besides a
 *       {@code weights.safetensors} inside the component's folder, which is always used);</li>
 *   <li>{@link Builder#loadImageEncoder} — whether to load {@code vae_encoder} when present (default true);</li>
 *   <li>{@link Builder#adapters} — a LoRA adapter file (the base + adapters export of a LoRA distillation) folded into
 *       the denoiser's weights before its session is created; only this option applies adapters, a file lying in the
 *       folder is never picked up by itself.</li>
 * </ul>
 *
 * <p>Immutable: safe to share between threads.
 */
public final class LoadOptions {
    private final ModelFamily family;
    private final Boolean senseflowCheckpoint;
    private final Integer t5SequenceLength;
    private final SessionConfig sessionConfig;
    private final Map<String, Path> weights;
    private final boolean loadImageEncoder;
    private final Path adapters;

    private LoadOptions(Builder b) {
        this.family = b.family;
        this.senseflowCheckpoint = b.senseflowCheckpoint;
        this.t5SequenceLength = b.t5SequenceLength;
        this.sessionConfig = b.sessionConfig;
        this.weights = Collections.unmodifiableMap(new LinkedHashMap<>(b.weights));
        this.loadImageEncoder = b.loadImageEncoder;
        this.adapters = b.adapters;
    }

    /** @return detection everywhere, CPU sessions with ONNX Runtime's default threads */
    public static LoadOptions defaults() {
        return builder().build();
    }

    /** @return a builder with the defaults */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder starting from these options */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.family = family;
        b.senseflowCheckpoint = senseflowCheckpoint;
        b.t5SequenceLength = t5SequenceLength;
        b.sessionConfig = sessionConfig;
        b.weights.putAll(weights);
        b.loadImageEncoder = loadImageEncoder;
        b.adapters = adapters;
        return b;
    }

    /** @return the layout to use, if set */
    public Optional<ModelFamily> family() {
        return Optional.ofNullable(family);
    }

    /** @return whether the weights are a SenseFlow checkpoint, if set */
    public Optional<Boolean> senseflowCheckpoint() {
        return Optional.ofNullable(senseflowCheckpoint);
    }

    /** @return the T5 sequence length, if set */
    public Optional<Integer> t5SequenceLength() {
        return Optional.ofNullable(t5SequenceLength);
    }

    /** @return the session configuration of every component */
    public SessionConfig sessionConfig() {
        return sessionConfig;
    }

    /** @return replacement weights by component folder name */
    public Map<String, Path> weights() {
        return weights;
    }

    /** @return whether {@code vae_encoder} is loaded when present */
    public boolean loadImageEncoder() {
        return loadImageEncoder;
    }

    /** @return the LoRA adapter file folded into the denoiser, if set */
    public Optional<Path> adapters() {
        return Optional.ofNullable(adapters);
    }

    @Override
    public String toString() {
        return "LoadOptions{family=" + family + ", senseflowCheckpoint=" + senseflowCheckpoint + ", t5SequenceLength="
                + t5SequenceLength + ", " + sessionConfig + ", weights=" + weights.keySet() + ", loadImageEncoder="
                + loadImageEncoder + (adapters == null ? "" : ", adapters=" + adapters) + "}";
    }

    /** Builds {@link LoadOptions}. */
    public static final class Builder {
        private ModelFamily family;
        private Boolean senseflowCheckpoint;
        private Integer t5SequenceLength;
        private SessionConfig sessionConfig = SessionConfig.defaults();
        private final Map<String, Path> weights = new LinkedHashMap<>();
        private boolean loadImageEncoder = true;
        private Path adapters;

        private Builder() {
        }

        /** @param f the layout, or null to detect it @return this builder */
        public Builder family(ModelFamily f) {
            this.family = f;
            return this;
        }

        /** @param on true for a SenseFlow checkpoint, false for a plain teacher, null to read the marker @return this builder */
        public Builder senseflowCheckpoint(Boolean on) {
            this.senseflowCheckpoint = on;
            return this;
        }

        /** @param tokens T5 tokens per prompt (at least 1), or null for the preset @return this builder */
        public Builder t5SequenceLength(Integer tokens) {
            if (tokens != null && tokens < 1) {
                throw InvalidRequestException.of("t5SequenceLength", "at least 1 token", tokens);
            }
            this.t5SequenceLength = tokens;
            return this;
        }

        /** @param config the session configuration @return this builder */
        public Builder sessionConfig(SessionConfig config) {
            this.sessionConfig = Objects.requireNonNull(config, "sessionConfig");
            return this;
        }

        /**
         * @param component a component folder name, such as {@code transformer}
         * @param safetensors a file whose tensors replace that component's initializers of the same names
         * @return this builder
         */
        public Builder weights(String component, Path safetensors) {
            Objects.requireNonNull(component, "component");
            Objects.requireNonNull(safetensors, "safetensors");
            weights.put(component, safetensors);
            return this;
        }

        /** @param on whether to load {@code vae_encoder} when the folder has one @return this builder */
        public Builder loadImageEncoder(boolean on) {
            this.loadImageEncoder = on;
            return this;
        }

        /**
         * Applies LoRA adapters to the denoiser ({@code transformer}, or SDXL's {@code unet}): the file's
         * {@code <weight>.lora_down} and {@code <weight>.lora_up} are folded into the weights
         * ({@code W + scale down up}, in double, then float32) before ONNX Runtime sees the model, so the loaded
         * model runs exactly like the merged export of the same adapters. {@link Models#load} checks the file first
         * and refuses, naming it, one that is not safetensors, lacks the LoRA metadata, or adapts weights the
         * denoiser does not have in those shapes. It cannot be combined with replacement weights for the denoiser.
         *
         * @param safetensors the adapter file ({@code adapters.safetensors} of a LoRA run), or null for none
         * @return this builder
         */
        public Builder adapters(Path safetensors) {
            this.adapters = safetensors;
            return this;
        }

        /** @return the options */
        public LoadOptions build() {
            return new LoadOptions(this);
        }
    }
}
