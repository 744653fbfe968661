package io.senseflow.model;

import io.senseflow.tensor.Tensor;

/**
 * Images to latents: RGB {@code [B, 3, H, W]} in [-1, 1] to the generator's latent space (family scaling included).
 *
 * <p>Implementations say whether they are thread-safe; the ONNX Runtime ones are, and a pipeline shared between threads
 * needs its components to be.
 */
public interface ImageEncoder extends AutoCloseable {
    /** @param images images in [-1, 1] @return latents */
    Tensor encode(Tensor images);

    @Override
    default void close() {
    }
}
