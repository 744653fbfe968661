package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.tensor.Tensor;
import java.util.Objects;

/** A generator whose graph was built for one latent size: a request of another size fails with the size it needs. */
final class FixedSizeGenerator implements Generator {
    private final Generator inner;
    private final String name;
    private final int latentHeight;
    private final int latentWidth;

    FixedSizeGenerator(Generator inner, String name, int latentHeight, int latentWidth) {
        this.inner = Objects.requireNonNull(inner, "inner");
        this.name = name;
        this.latentHeight = latentHeight;
        this.latentWidth = latentWidth;
    }

    private void check(Tensor x) {
        if (x.rank() == 4 && (x.dim(2) != latentHeight || x.dim(3) != latentWidth)) {
            int f = inner.latentFormat().downsample();
            String expected = latentWidth * f + " x " + latentHeight * f;
            if (x.dim(3) != latentWidth) {
                throw InvalidRequestException.of("width", latentWidth * f + " (" + name + " is built for " + expected
                        + " images)", x.dim(3) * f);
            }
            throw InvalidRequestException.of("height", latentHeight * f + " (" + name + " is built for " + expected
                    + " images)", x.dim(2) * f);
        }
    }

    @Override
    public Tensor predict(Tensor x, float[] sigmas, Conditioning conditioning) {
        check(x);
        return inner.predict(x, sigmas, conditioning);
    }

    @Override
    public Tensor velocity(Tensor x, float[] sigmas, Conditioning conditioning) {
        check(x);
        return inner.velocity(x, sigmas, conditioning);
    }

    @Override
    public Tensor pureNoiseState(Tensor noise, double sigma) {
        return inner.pureNoiseState(noise, sigma);
    }

    @Override
    public Parameterization parameterization() {
        return inner.parameterization();
    }

    @Override
    public LatentFormat latentFormat() {
        return inner.latentFormat();
    }

    @Override
    public void close() {
        try {
            inner.close();
        } catch (Exception e) {
            throw new io.senseflow.BackendException("closing " + name + " failed", e);
        }
    }

    @Override
    public String toString() {
        return inner + " (" + latentWidth + " x " + latentHeight + " latents)";
    }
}
