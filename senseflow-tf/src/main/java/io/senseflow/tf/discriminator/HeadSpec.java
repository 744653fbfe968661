package io.senseflow.tf.discriminator;

import io.senseflow.InvalidRequestException;

/**
 * The shape of every discriminator head (docs/algorithm.md §5): on a tap's feature grid {@code [B, h, w, C]},
 * {@code layers} 3x3 convolutions to {@code width} channels, each followed by LeakyReLU({@code slope}); the first
 * {@code downsample} of them have stride 2 (each halves the grid, rounding up). Then a 1x1 convolution to the logit
 * grid: one channel, or, with text conditioning, {@code projection} channels whose inner product with the projected
 * pooled text embedding (a linear layer {@code pooledWidth -> projection}), divided by {@code sqrt(projection)}, is
 * the logit. Spectral normalisation, when on, divides every convolution kernel by its largest singular value,
 * estimated by power iteration (see {@link Discriminator}).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param width channels of the hidden convolutions
 * @param layers number of 3x3 convolutions (at least 1)
 * @param downsample how many of them have stride 2 (at most {@code layers})
 * @param slope LeakyReLU's negative slope
 * @param spectralNorm whether kernels are spectrally normalised
 * @param pooledWidth width of the pooled text embedding the heads are conditioned on; 0 for unconditional heads
 * @param projection channels of the conditioned output (ignored when unconditional)
 */
public record HeadSpec(int width, int layers, int downsample, double slope, boolean spectralNorm, int pooledWidth,
                       int projection) {

    public HeadSpec {
        if (width < 1) {
            throw InvalidRequestException.of("heads.width", "at least 1 channel", width);
        }
        if (layers < 1) {
            throw InvalidRequestException.of("heads.layers", "at least 1 convolution", layers);
        }
        if (downsample < 0 || downsample > layers) {
            throw InvalidRequestException.of("heads.downsample", "in [0, layers = " + layers + "]", downsample);
        }
        if (!(slope >= 0 && slope < 1)) {
            throw InvalidRequestException.of("heads.slope", "a LeakyReLU slope in [0, 1)", slope);
        }
        if (pooledWidth < 0 || (pooledWidth > 0 && projection < 1)) {
            throw InvalidRequestException.of("heads.textConditioning", "a pooled width >= 0 and, when > 0, a projection"
                    + " >= 1", pooledWidth + " -> " + projection);
        }
    }

    /** @return 64 channels, 2 convolutions, 1 downsampling, LeakyReLU(0.2), spectral norm, unconditional */
    public static HeadSpec defaults() {
        return new HeadSpec(64, 2, 1, 0.2, true, 0, 0);
    }

    /** @param w hidden channels @return a copy */
    public HeadSpec withWidth(int w) {
        return new HeadSpec(w, layers, downsample, slope, spectralNorm, pooledWidth, projection);
    }

    /** @param n convolutions @param strided how many of them downsample @return a copy */
    public HeadSpec withLayers(int n, int strided) {
        return new HeadSpec(width, n, strided, slope, spectralNorm, pooledWidth, projection);
    }

    /** @param on spectral normalisation @return a copy */
    public HeadSpec withSpectralNorm(boolean on) {
        return new HeadSpec(width, layers, downsample, slope, on, pooledWidth, projection);
    }

    /**
     * @param pooled width of the pooled text embedding ({@code ModuleInputs.POOLED})
     * @param dim channels of the projection space
     * @return a copy conditioned on the text
     */
    public HeadSpec withTextConditioning(int pooled, int dim) {
        return new HeadSpec(width, layers, downsample, slope, spectralNorm, pooled, dim);
    }

    /** @return whether the heads read the pooled text embedding */
    public boolean conditioned() {
        return pooledWidth > 0;
    }
}
