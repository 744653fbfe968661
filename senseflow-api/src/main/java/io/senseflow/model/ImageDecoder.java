package io.senseflow.model;

import io.senseflow.tensor.Tensor;

/**
 * Latents to images: {@code [B, C, h, w]} to RGB {@code [B, 3, H, W]} in [-1, 1] (family scaling included).
 *
 * <p>Implementations say whether they are thread-safe; the ONNX Runtime ones are, and a pipeline shared between threads
 * needs its components to be.
 */
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
