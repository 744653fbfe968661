package io.senseflow.train;

import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.tensor.Tensor;

/**
 * Serves a trainable velocity module as a {@link Generator}, so a model in training can be sampled with the
 * ordinary pipeline (evaluation during distillation, teacher-trained-from-scratch runs). Forward only; the
 * module's parameters are read as they are at each call. Does not own the module.
 *
 * <p>Thread-safe only when its module is; the TensorFlow modules are not, so use it from one thread.
 */
public final class ModuleGenerator implements Generator {
    private final DifferentiableModule module;
    private final LatentFormat format;

    /**
     * @param module a denoiser taking {@link ModuleInputs#denoiser} inputs and returning a velocity
     * @param format its latent geometry
     */
    public ModuleGenerator(DifferentiableModule module, LatentFormat format) {
        this.module = module;
        this.format = format;
    }

    @Override
    public Tensor predict(Tensor x, float[] sigmas, Conditioning conditioning) {
        return module.forward(ModuleInputs.denoiser(x, sigmas, conditioning));
    }

    @Override
    public Parameterization parameterization() {
        return Parameterization.VELOCITY;
    }

    @Override
    public LatentFormat latentFormat() {
        return format;
    }
}
