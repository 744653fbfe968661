package io.senseflow.model;

import io.senseflow.InvalidRequestException;

/**
 * The geometry of a model's latent space: {@code channels} per latent cell, {@code downsample} pixels per latent
 * cell along each side (the VAE factor; 1 for pixel-space models) and the transformer's {@code patchSize} in latent
 * cells. Image sides must be multiples of {@code downsample * patchSize}.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param channels latent channels
 * @param downsample pixels per latent cell
 * @param patchSize latent cells per transformer patch side
 */
public record LatentFormat(int channels, int downsample, int patchSize) {
    public LatentFormat {
        if (channels < 1 || downsample < 1 || patchSize < 1) {
            throw InvalidRequestException.of("latent format", "positive channels, downsample and patch size",
                    channels + ", " + downsample + ", " + patchSize);
        }
    }

    /** @return the multiple image widths and heights must be */
    public int pixelMultiple() {
        return downsample * patchSize;
    }

    /**
     * @param batch samples
     * @param width image width in pixels
     * @param height image height in pixels
     * @return the latent shape {@code [batch, channels, height / downsample, width / downsample]}
     */
    public int[] latentShape(int batch, int width, int height) {
        return new int[] {batch, channels, height / downsample, width / downsample};
    }

    /** @param width pixels @param height pixels @return the transformer's image token count */
    public int imageTokens(int width, int height) {
        return (height / pixelMultiple()) * (width / pixelMultiple());
    }
}
