package io.senseflow.model;

import io.senseflow.tensor.Tensor;

/** Latents to images: {@code [B, C, h, w]} to RGB {@code [B, 3, H, W]} in [-1, 1] (family scaling included). */
public interface ImageDecoder extends AutoCloseable {
    /** @param latents latents in the generator's space @return images in [-1, 1] */
    Tensor decode(Tensor latents);

    @Override
    default void close() {
    }

    /** @return a decoder for pixel-space models: the latents already are the image */
    static ImageDecoder identity() {
        return latents -> latents;
    }
}
