package io.senseflow.model;

import io.senseflow.tensor.Tensor;

/**
 * What a generator's raw output means, in the flow convention {@code x_s = (1 - s) x0 + s eps}. The pipeline and
 * the distillation engine work with velocities; {@link #toVelocity} converts at the boundary.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum Parameterization {
    /** The output is the velocity {@code v = eps - x0} (SD3, FLUX, SenseFlow's own models). */
    VELOCITY,
    /** The output is the clean sample {@code x0}; {@code v = (x - x0) / s}. */
    X0,
    /**
     * The output is the noise {@code eps} of the flow mixture; {@code x0 = (x - s eps) / (1 - s)},
     * {@code v = eps - x0}. (DDPM epsilon models such as SDXL use {@link EpsilonToFlowAdapter} instead, which
     * also handles their different scaling.)
     */
    EPSILON;

    /**
     * @param x the state the model saw
     * @param output the model's raw output
     * @param sigmas the noise level of each sample
     * @return the velocity
     */
    public Tensor toVelocity(Tensor x, Tensor output, float[] sigmas) {
        switch (this) {
            case VELOCITY:
                return output;
            case X0: {
                float[] a = new float[sigmas.length];
                float[] c = new float[sigmas.length];
                for (int i = 0; i < sigmas.length; i++) {
                    a[i] = 1 / sigmas[i];
                    c[i] = -1 / sigmas[i];
                }
                return Tensor.combine(a, x, c, output);
            }
            case EPSILON: {
                // v = eps - (x - s eps) / (1 - s) = eps / (1 - s) - x / (1 - s)
                float[] a = new float[sigmas.length];
                float[] c = new float[sigmas.length];
                for (int i = 0; i < sigmas.length; i++) {
                    a[i] = -1 / (1 - sigmas[i]);
                    c[i] = 1 / (1 - sigmas[i]);
                }
                return Tensor.combine(a, x, c, output);
            }
            default:
                throw new AssertionError(this);
        }
    }
}
