package io.senseflow.model;

import io.senseflow.tensor.Tensor;

/**
 * A DDPM epsilon-prediction denoiser (SDXL-type) in its own convention: {@code x_t = a x0 + b eps}.
 *
 * <p>Implementations say whether they are thread-safe; the ONNX Runtime ones are, and a pipeline shared between threads
 * needs its components to be.
 */
public interface EpsilonModel extends AutoCloseable {

    /**
     * @param xt states in the DDPM scaling
     * @param timesteps DDPM timestep of each sample (0..999, may be fractional)
     * @param conditioning conditioning
     * @return the predicted noise
     */
    Tensor predictEpsilon(Tensor xt, float[] timesteps, Conditioning conditioning);

    /** @return the latent geometry */
    LatentFormat latentFormat();

    @Override
    default void close() {
    }
}
