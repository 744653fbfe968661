package io.senseflow.onnx.runtime;

import io.senseflow.model.Conditioning;
import io.senseflow.model.EpsilonModel;
import io.senseflow.model.LatentFormat;
import io.senseflow.tensor.Tensor;

/**
 * A DDPM epsilon model (SDXL-type UNet) running in ONNX Runtime. It receives DDPM timesteps (0..999, possibly
 * fractional) times the binding's scale, usually 1; wrap it in {@link io.senseflow.model.EpsilonToFlowAdapter} to use it
 * in the flow convention. Scalar timestep inputs are handled as in {@link OrtGenerator}; integer timestep inputs get
 * rounded values.
 *
 * <p>Thread-safe. Owns the model: closing this closes it.
 */
public final class OrtEpsilonModel implements EpsilonModel {
    private final DenoiserRunner runner;

    private OrtEpsilonModel(DenoiserRunner runner) {
        this.runner = runner;
    }

    /**
     * @param model the loaded model (owned from now on)
     * @param binding how inputs map onto the model, for example {@link DenoiserBinding#sdxlUnet()}
     * @param latentFormat the latent geometry
     * @return the epsilon model
     */
    public static OrtEpsilonModel create(OrtModel model, DenoiserBinding binding, LatentFormat latentFormat) {
        return new OrtEpsilonModel(new DenoiserRunner(model, binding, latentFormat));
    }

    @Override
    public Tensor predictEpsilon(Tensor xt, float[] timesteps, Conditioning conditioning) {
        return runner.run(xt, timesteps, conditioning);
    }

    @Override
    public LatentFormat latentFormat() {
        return runner.format();
    }

    /** @return the underlying model */
    public OrtModel model() {
        return runner.model();
    }

    /** Closes the model; closing twice does nothing. */
    @Override
    public void close() {
        runner.model().close();
    }

    @Override
    public String toString() {
        return "OrtEpsilonModel{" + runner.model().name() + "}";
    }
}
