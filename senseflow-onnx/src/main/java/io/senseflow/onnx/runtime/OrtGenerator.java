package io.senseflow.onnx.runtime;

import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.tensor.Tensor;
import java.util.Objects;

/**
 * A flow {@link Generator} running in ONNX Runtime: callers pass noise levels {@code s}; the model receives
 * {@code timestepScale * s} on its timestep input ({@code 1000 s} for SD3, {@code s} for FLUX and SenseFlow's own
 * models), with the state and conditioning mapped by a {@link DenoiserBinding}.
 *
 * <p>A model whose timestep input is a scalar runs each stretch of samples with equal timesteps separately and
 * concatenates the results, so per-sample timesteps (as in distillation) work with it too; a model with a
 * {@code [batch]} timestep runs the batch at once. Integer timestep inputs get rounded values.
 *
 * <p>Thread-safe. Owns the model: closing the generator closes it.
 */
public final class OrtGenerator implements Generator {
    private final DenoiserRunner runner;
    private final Parameterization parameterization;

    private OrtGenerator(DenoiserRunner runner, Parameterization parameterization) {
        this.runner = runner;
        this.parameterization = parameterization;
    }

    /**
     * @param model the loaded model (owned from now on)
     * @param binding how inputs map onto the model
     * @param parameterization what the model predicts
     * @param latentFormat the latent geometry
     * @return the generator
     * @throws io.senseflow.ModelLoadException if the binding names inputs or outputs the model lacks, or the model's
     *     declared channels disagree with the latent format
     */
    public static OrtGenerator create(OrtModel model, DenoiserBinding binding, Parameterization parameterization,
                                      LatentFormat latentFormat) {
        return new OrtGenerator(new DenoiserRunner(model, binding, latentFormat),
                Objects.requireNonNull(parameterization, "parameterization"));
    }

    @Override
    public Tensor predict(Tensor x, float[] sigmas, Conditioning conditioning) {
        return runner.run(x, sigmas, conditioning);
    }

    @Override
    public Parameterization parameterization() {
        return parameterization;
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
        return "OrtGenerator{" + runner.model().name() + ", " + parameterization + "}";
    }
}
