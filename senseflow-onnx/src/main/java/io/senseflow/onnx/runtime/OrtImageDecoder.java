package io.senseflow.onnx.runtime;

import io.senseflow.model.ImageDecoder;
import io.senseflow.tensor.Tensor;
import java.util.Objects;

/**
 * A VAE decoder running in ONNX Runtime: {@code decode(z) = vae(z / scalingFactor + shiftFactor)}, turning latents in
 * the generator's space into images in [-1, 1] (not clamped). SD3: scaling 1.5305, shift 0.0609; FLUX: 0.3611,
 * 0.1159; SDXL: 0.13025, 0.
 *
 * <p>Thread-safe. Owns the model: closing the decoder closes it.
 */
public final class OrtImageDecoder implements ImageDecoder {
    private final OrtModel model;
    private final String input;
    private final String output;
    private final float scalingFactor;
    private final float shiftFactor;

    private OrtImageDecoder(OrtModel model, String input, String output, float scalingFactor, float shiftFactor) {
        this.model = model;
        this.input = input;
        this.output = output;
        this.scalingFactor = scalingFactor;
        this.shiftFactor = shiftFactor;
    }

    /** @param model the loaded decoder (owned by the decoder once built) @return a builder */
    public static Builder builder(OrtModel model) {
        return new Builder(Objects.requireNonNull(model, "model"));
    }

    @Override
    public Tensor decode(Tensor latents) {
        float inv = 1f / scalingFactor;
        Tensor z = latents.map(v -> v * inv + shiftFactor);
        return model.runSingle(OrtInputs.create().put(input, z), output);
    }

    /** @return the VAE scaling factor */
    public float scalingFactor() {
        return scalingFactor;
    }

    /** @return the VAE shift factor */
    public float shiftFactor() {
        return shiftFactor;
    }

    /** @return the underlying model */
    public OrtModel model() {
        return model;
    }

    /** Closes the model; closing twice does nothing. */
    @Override
    public void close() {
        model.close();
    }

    /** Builds an {@link OrtImageDecoder}. */
    public static final class Builder {
        private final OrtModel model;
        private String input;
        private String output;
        private float scalingFactor = 1f;
        private float shiftFactor;

        private Builder(OrtModel model) {
            this.model = model;
        }

        /** @param name the latent input (default: the model's only input) @return this builder */
        public Builder input(String name) {
            this.input = name;
            return this;
        }

        /** @param name the image output (default: the model's first output) @return this builder */
        public Builder output(String name) {
            this.output = name;
            return this;
        }

        /** @param factor the VAE scaling factor, positive @return this builder */
        public Builder scalingFactor(float factor) {
            this.scalingFactor = VaeScaling.checkScale(factor);
            return this;
        }

        /** @param shift the VAE shift factor, finite @return this builder */
        public Builder shiftFactor(float shift) {
            this.shiftFactor = VaeScaling.checkShift(shift);
            return this;
        }

        /** @return the decoder, owning the model */
        public OrtImageDecoder build() {
            return new OrtImageDecoder(model, VaeScaling.inputName(model, input), VaeScaling.outputName(model, output),
                    scalingFactor, shiftFactor);
        }
    }
}
