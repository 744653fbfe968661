package io.senseflow.onnx.testing;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.DataType;

/**
 * Variations of the fixture folders of {@link TinyModelFolders}. Immutable; start from {@link #defaults()}.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param precision FLOAT, or FLOAT16 for an fp16 export (float inputs, outputs and weights in half precision)
 * @param senseflowCheckpoint whether {@code model_index.json} carries {@code "senseflow_checkpoint": true}
 * @param clipLength the CLIP tokenizers' {@code model_max_length} (real CLIP: 77; small keeps tests fast)
 * @param vaeLatentChannels the VAE's latent channels, or 0 for the denoiser's (another value makes a broken folder)
 * @param vaeEncoder whether to write {@code vae_encoder/}
 * @param t5 whether to write the T5 encoder (SD3 can run without it)
 * @param guidanceInput whether the FLUX transformer takes {@code guidance} (FLUX.1-dev-like; false: schnell-like)
 * @param latentSize the default latent side ({@code sample_size}); images default to 8 times it
 */
public record FixtureOptions(DataType precision, boolean senseflowCheckpoint, int clipLength, int vaeLatentChannels,
                             boolean vaeEncoder, boolean t5, boolean guidanceInput, int latentSize) {
    public FixtureOptions {
        if (precision != DataType.FLOAT && precision != DataType.FLOAT16) {
            throw InvalidRequestException.of("precision", "FLOAT or FLOAT16", precision);
        }
        if (clipLength < 3 || vaeLatentChannels < 0 || latentSize < 2 || latentSize % 2 != 0) {
            throw InvalidRequestException.of("fixture options", "clipLength >= 3, vaeLatentChannels >= 0, even latentSize >= 2",
                    clipLength + ", " + vaeLatentChannels + ", " + latentSize);
        }
    }

    /** @return fp32, no SenseFlow marker, CLIP length 10, matching VAE with encoder, T5 and guidance present, 32 px */
    public static FixtureOptions defaults() {
        return new FixtureOptions(DataType.FLOAT, false, 10, 0, true, true, true, 4);
    }

    /** @return an fp16 variant */
    public FixtureOptions fp16() {
        return new FixtureOptions(DataType.FLOAT16, senseflowCheckpoint, clipLength, vaeLatentChannels, vaeEncoder, t5,
                guidanceInput, latentSize);
    }

    /** @param on the SenseFlow marker @return a copy */
    public FixtureOptions withSenseflowCheckpoint(boolean on) {
        return new FixtureOptions(precision, on, clipLength, vaeLatentChannels, vaeEncoder, t5, guidanceInput, latentSize);
    }

    /** @param length CLIP tokens @return a copy */
    public FixtureOptions withClipLength(int length) {
        return new FixtureOptions(precision, senseflowCheckpoint, length, vaeLatentChannels, vaeEncoder, t5, guidanceInput, latentSize);
    }

    /** @param channels the VAE's latent channels (a mismatch makes a broken folder) @return a copy */
    public FixtureOptions withVaeLatentChannels(int channels) {
        return new FixtureOptions(precision, senseflowCheckpoint, clipLength, channels, vaeEncoder, t5, guidanceInput, latentSize);
    }

    /** @param on whether to write the VAE encoder @return a copy */
    public FixtureOptions withVaeEncoder(boolean on) {
        return new FixtureOptions(precision, senseflowCheckpoint, clipLength, vaeLatentChannels, on, t5, guidanceInput, latentSize);
    }

    /** @param on whether to write SD3's T5 encoder @return a copy */
    public FixtureOptions withT5(boolean on) {
        return new FixtureOptions(precision, senseflowCheckpoint, clipLength, vaeLatentChannels, vaeEncoder, on, guidanceInput, latentSize);
    }

    /** @param on whether the FLUX transformer takes guidance @return a copy */
    public FixtureOptions withGuidanceInput(boolean on) {
        return new FixtureOptions(precision, senseflowCheckpoint, clipLength, vaeLatentChannels, vaeEncoder, t5, on, latentSize);
    }

    /** @return the default image side in pixels */
    public int imageSize() {
        return latentSize * ClosedForms.VAE_FACTOR;
    }
}
