package io.senseflow.onnx.runtime;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * How a denoiser's call maps onto a model's inputs: which input takes the state, the timestep (and at what scale),
 * the token embeddings, the pooled embedding and the mask of the {@link io.senseflow.model.Conditioning}, which output
 * is the prediction, and fixed inputs that are the same for every call (FLUX's position ids, a fixed guidance).
 * Conditioning extras feed the input of the same name. Immutable; used by {@link OrtGenerator} and
 * {@link OrtEpsilonModel}.
 *
 * <p>The presets use the input names of diffusers/Optimum ONNX exports; check them against an export's
 * {@link OrtModel#inputs()} and adjust with {@link #toBuilder()}.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class DenoiserBinding {
    private final String sample;
    private final String timestep;
    private final float timestepScale;
    private final String tokens;
    private final String pooled;
    private final String mask;
    private final String output;
    private final int channelAxis;
    private final Map<String, OrtInputs.Value> constants;

    private DenoiserBinding(Builder b) {
        this.sample = b.sample;
        this.timestep = b.timestep;
        this.timestepScale = b.timestepScale;
        this.tokens = b.tokens;
        this.pooled = b.pooled;
        this.mask = b.mask;
        this.output = b.output;
        this.channelAxis = b.channelAxis;
        this.constants = Collections.unmodifiableMap(new LinkedHashMap<>(b.constants));
    }

    /** @return a builder: sample {@code hidden_states}, timestep {@code timestep} at scale 1, tokens {@code encoder_hidden_states}, no pooled input, no mask, the model's first output */
    public static Builder builder() {
        return new Builder();
    }

    /** @return SD3/SD3.5 transformers: timestep {@code 1000 s}, pooled embedding on {@code pooled_projections} */
    public static DenoiserBinding sd3() {
        return builder().timestepScale(1000f).pooled("pooled_projections").build();
    }

    /**
     * @return FLUX transformers: timestep {@code s} (the model scales it), pooled embedding on
     *     {@code pooled_projections}; {@code img_ids}, {@code txt_ids} and {@code guidance} come as constants or
     *     conditioning extras. The state is the {@code [B, C, H, W]} layout; {@link OrtFluxGenerator} packs it into
     *     FLUX's token layout itself (with {@link Builder#channelAxis} 2)
     */
    public static DenoiserBinding flux() {
        return builder().timestepScale(1f).pooled("pooled_projections").build();
    }

    /** @return SDXL-type UNets: state on {@code sample}, pooled embedding on {@code text_embeds}, {@code time_ids} as an extra */
    public static DenoiserBinding sdxlUnet() {
        return builder().sample("sample").pooled("text_embeds").build();
    }

    /** @return a builder starting from this binding */
    public Builder toBuilder() {
        Builder b = new Builder().sample(sample).timestep(timestep).timestepScale(timestepScale).tokens(tokens)
                .pooled(pooled).mask(mask).output(output).channelAxis(channelAxis);
        b.constants.putAll(constants);
        return b;
    }

    /** @return the state input */
    public String sample() {
        return sample;
    }

    /** @return the timestep input */
    public String timestep() {
        return timestep;
    }

    /** @return the factor from the caller's timestep to the model's ({@code 1000} for SD3) */
    public float timestepScale() {
        return timestepScale;
    }

    /** @return the token-embedding input, or null when the model takes none */
    public String tokens() {
        return tokens;
    }

    /** @return the pooled-embedding input, or null */
    public String pooled() {
        return pooled;
    }

    /** @return the attention-mask input, or null */
    public String mask() {
        return mask;
    }

    /** @return the prediction output, or null for the model's first output */
    public String output() {
        return output;
    }

    /**
     * @return the axis of the state that holds the latent channels: 1 for {@code [B, C, H, W]} states, 2 for token
     *     states {@code [B, tokens, features]} such as FLUX's packed latents
     */
    public int channelAxis() {
        return channelAxis;
    }

    /** @return the names of the fixed inputs */
    public java.util.Set<String> constantNames() {
        return constants.keySet();
    }

    Map<String, OrtInputs.Value> constants() {
        return constants;
    }

    @Override
    public String toString() {
        return "DenoiserBinding{sample=" + sample + ", timestep=" + timestep + " x" + timestepScale + ", tokens=" + tokens
                + ", pooled=" + pooled + ", mask=" + mask + ", output=" + output + ", channelAxis=" + channelAxis
                + ", constants=" + constants.keySet() + "}";
    }

    /** Builds a {@link DenoiserBinding}. */
    public static final class Builder {
        private String sample = "hidden_states";
        private String timestep = "timestep";
        private float timestepScale = 1f;
        private String tokens = "encoder_hidden_states";
        private String pooled;
        private String mask;
        private String output;
        private int channelAxis = 1;
        private final Map<String, OrtInputs.Value> constants = new LinkedHashMap<>();

        private Builder() {
        }

        /**
         * @param axis the axis of the state holding the latent channels, checked against the model and the latent
         *     format (default 1; 2 for a token layout {@code [B, tokens, features]})
         * @return this builder
         */
        public Builder channelAxis(int axis) {
            if (axis < 1) {
                throw InvalidRequestException.of("channelAxis", "an axis after the batch (1 or more)", axis);
            }
            this.channelAxis = axis;
            return this;
        }

        /** @param name the state input @return this builder */
        public Builder sample(String name) {
            this.sample = Objects.requireNonNull(name, "sample");
            return this;
        }

        /** @param name the timestep input @return this builder */
        public Builder timestep(String name) {
            this.timestep = Objects.requireNonNull(name, "timestep");
            return this;
        }

        /** @param scale model timestep = scale times the caller's timestep; positive and finite @return this builder */
        public Builder timestepScale(float scale) {
            if (!(scale > 0) || !Float.isFinite(scale)) {
                throw InvalidRequestException.of("timestepScale", "a positive finite factor (1000 for SD3, 1 for FLUX)", scale);
            }
            this.timestepScale = scale;
            return this;
        }

        /** @param name the token-embedding input, or null for none @return this builder */
        public Builder tokens(String name) {
            this.tokens = name;
            return this;
        }

        /** @param name the pooled-embedding input, or null for none @return this builder */
        public Builder pooled(String name) {
            this.pooled = name;
            return this;
        }

        /** @param name the attention-mask input, or null for none @return this builder */
        public Builder mask(String name) {
            this.mask = name;
            return this;
        }

        /** @param name the prediction output, or null for the model's first output @return this builder */
        public Builder output(String name) {
            this.output = name;
            return this;
        }

        /** @param name an input @param value its value for every call (not batched) @return this builder */
        public Builder constant(String name, Tensor value) {
            constants.put(Objects.requireNonNull(name, "name"), new OrtInputs.Floats(Objects.requireNonNull(value, name)));
            return this;
        }

        /** @param name an integer input @param ids its value for every call @param shape their dimensions @return this builder */
        public Builder constantIds(String name, long[] ids, int... shape) {
            long n = 1;
            for (int d : shape) {
                n *= d;
            }
            if (n != ids.length) {
                throw InvalidRequestException.of(name, n + " ids for shape " + Arrays.toString(shape), ids.length + " ids");
            }
            constants.put(Objects.requireNonNull(name, "name"), new OrtInputs.Ids(ids.clone(), shape.clone()));
            return this;
        }

        /** @return the binding */
        public DenoiserBinding build() {
            return new DenoiserBinding(this);
        }
    }
}
