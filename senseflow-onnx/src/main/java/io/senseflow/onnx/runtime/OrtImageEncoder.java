package io.senseflow.onnx.runtime;

import io.senseflow.BackendException;
import io.senseflow.model.ImageEncoder;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;
import java.util.Objects;

/**
 * A VAE encoder running in ONNX Runtime: {@code encode(x) = (vae(x) - shiftFactor) * scalingFactor}, images in
 * [-1, 1] to latents in the generator's space. Encoders exported to return the latent distribution's parameters
 * (mean and log-variance stacked along the channels, {@code 2 C} channels) are read deterministically: with
 * {@link Builder#latentChannels(int)} set to {@code C}, a {@code 2 C}-channel output is cut to its first {@code C}
 * channels, the mean (the distribution's mode).
 *
 * <p>Thread-safe. Owns the model: closing the encoder closes it.
 */
public final class OrtImageEncoder implements ImageEncoder {
    private final OrtModel model;
    private final String input;
    private final String output;
    private final float scalingFactor;
    private final float shiftFactor;
    private final int latentChannels;

    private OrtImageEncoder(OrtModel model, String input, String output, float scalingFactor, float shiftFactor,
                            int latentChannels) {
        this.model = model;
        this.input = input;
        this.output = output;
        this.scalingFactor = scalingFactor;
        this.shiftFactor = shiftFactor;
        this.latentChannels = latentChannels;
    }

    /** @param model the loaded encoder (owned by the encoder once built) @return a builder */
    public static Builder builder(OrtModel model) {
        return new Builder(Objects.requireNonNull(model, "model"));
    }

    @Override
    public Tensor encode(Tensor images) {
        Tensor z = model.runSingle(OrtInputs.create().put(input, images), output);
        if (latentChannels > 0 && z.rank() >= 2 && z.dim(1) != latentChannels) {
            if (z.dim(1) != 2 * latentChannels) {
                throw new BackendException(model.name() + ": output '" + output + "' has " + z.dim(1) + " channels (shape "
                        + Arrays.toString(z.shape()) + "); expected " + latentChannels + " latent channels or "
                        + 2 * latentChannels + " (mean and log-variance)");
            }
            z = firstChannels(z, latentChannels);
        }
        float shift = shiftFactor;
        float scale = scalingFactor;
        return z.map(v -> (v - shift) * scale);
    }

    private static Tensor firstChannels(Tensor z, int c) {
        int[] shape = z.shape();
        int inner = z.sampleSize() / shape[1];
        float[] src = z.toArray();
        float[] out = new float[shape[0] * c * inner];
        for (int b = 0; b < shape[0]; b++) {
            System.arraycopy(src, b * shape[1] * inner, out, b * c * inner, c * inner);
        }
        shape[1] = c;
        return Tensor.wrap(out, shape);
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

    /** Builds an {@link OrtImageEncoder}. */
    public static final class Builder {
        private final OrtModel model;
        private String input;
        private String output;
        private float scalingFactor = 1f;
        private float shiftFactor;
        private int latentChannels;

        private Builder(OrtModel model) {
            this.model = model;
        }

        /** @param name the image input (default: the model's only input) @return this builder */
        public Builder input(String name) {
            this.input = name;
            return this;
        }

        /** @param name the latent output (default: the model's first output) @return this builder */
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

        /**
         * @param channels the latent channels {@code C}; a {@code 2 C}-channel output is read as mean and log-variance
         *     and its mean is used; 0 (default) takes the output as it is
         * @return this builder
         */
        public Builder latentChannels(int channels) {
            if (channels < 0) {
                throw io.senseflow.InvalidRequestException.of("latentChannels", "a non-negative channel count", channels);
            }
            this.latentChannels = channels;
            return this;
        }

        /** @return the encoder, owning the model */
        public OrtImageEncoder build() {
            return new OrtImageEncoder(model, VaeScaling.inputName(model, input), VaeScaling.outputName(model, output),
                    scalingFactor, shiftFactor, latentChannels);
        }
    }
}
