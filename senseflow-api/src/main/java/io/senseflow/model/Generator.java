package io.senseflow.model;

import io.senseflow.tensor.Tensor;

/**
 * A denoiser in the flow convention: given a state {@code x_s}, its noise level {@code s} per sample and the
 * conditioning, it predicts in its {@link #parameterization()}. Model families convert their own timestep scales
 * (SD3's {@code 1000 s}, FLUX's {@code s}, SDXL's DDPM index) inside their adapters; callers always pass {@code s}.
 *
 * <p>Implementations document whether they are thread-safe; the ONNX Runtime ones are.
 */
public interface Generator extends AutoCloseable {

    /**
     * @param x states {@code [B, C, H, W]}
     * @param sigmas noise level of each sample, in [0, 1]
     * @param conditioning batch of {@code B} conditionings
     * @return the raw prediction, same shape as {@code x}
     */
    Tensor predict(Tensor x, float[] sigmas, Conditioning conditioning);

    /** @return what {@link #predict} returns */
    Parameterization parameterization();

    /** @return the latent geometry this generator works on */
    LatentFormat latentFormat();

    /**
     * @param x states
     * @param sigmas noise levels
     * @param conditioning conditioning
     * @return the prediction converted to a velocity
     */
    default Tensor velocity(Tensor x, float[] sigmas, Conditioning conditioning) {
        Tensor out = predict(x, sigmas, conditioning);
        return parameterization().toVelocity(x, out, sigmas);
    }

    /**
     * The state that represents "pure noise" at the first noise level of a run. For flow models it is the noise
     * itself; a mapped DDPM model's pure-noise state is scaled (docs/algorithm.md §1).
     *
     * @param noise standard normal noise
     * @param sigma the first noise level
     * @return the initial state
     */
    default Tensor pureNoiseState(Tensor noise, double sigma) {
        return noise;
    }

    /** Releases native resources; the default does nothing. */
    @Override
    default void close() {
    }
}
