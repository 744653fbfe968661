package io.senseflow.testing;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.tensor.Tensor;

/**
 * The exact velocity field of a {@link GaussianMixture} as a {@link Generator}: latents {@code [B, d, 1, 1]},
 * conditioning from {@link MixturePrompts}. Thread-safe, deterministic, no training.
 */
public final class MixtureFlowGenerator implements Generator {
    private final GaussianMixture mixture;

    /** @param mixture the data distribution */
    public MixtureFlowGenerator(GaussianMixture mixture) {
        this.mixture = mixture;
    }

    /** @return the data distribution */
    public GaussianMixture mixture() {
        return mixture;
    }

    @Override
    public Tensor predict(Tensor x, float[] sigmas, Conditioning conditioning) {
        int d = mixture.dimension();
        if (x.sampleSize() != d) {
            throw InvalidRequestException.of("x", d + " values per sample", x.sampleSize());
        }
        int n = x.batch();
        float[] in = x.toArray();
        float[] out = new float[in.length];
        double[] xi = new double[d];
        double[] vi = new double[d];
        for (int b = 0; b < n; b++) {
            for (int i = 0; i < d; i++) {
                xi[i] = in[b * d + i];
            }
            mixture.velocity(xi, sigmas[b], MixturePrompts.allowed(conditioning, b), vi);
            for (int i = 0; i < d; i++) {
                out[b * d + i] = (float) vi[i];
            }
        }
        return Tensor.wrap(out, x.shape());
    }

    @Override
    public Parameterization parameterization() {
        return Parameterization.VELOCITY;
    }

    @Override
    public LatentFormat latentFormat() {
        return new LatentFormat(mixture.dimension(), 1, 1);
    }
}
