package io.senseflow.reference;

import io.senseflow.InvalidRequestException;
import java.util.Arrays;

/**
 * The architecture of a {@link Mlp}: inputs are the flattened {@code x}, optional Fourier features of the noise
 * level {@code sigma} ({@code [s, sin(pi 2^k s), cos(pi 2^k s)]} for {@code k < timeFrequencies}) and an optional
 * pooled conditioning vector; SiLU hidden layers; a linear output.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param xDim values per sample of input {@code x}
 * @param timeFrequencies number of Fourier frequencies of sigma (0: no sigma input)
 * @param condDim width of the pooled conditioning (0: unconditional)
 * @param hidden hidden layer widths
 * @param outDim output width
 * @param outputLikeX reshape the output to {@code x}'s shape (requires {@code outDim == xDim})
 */
public record MlpSpec(int xDim, int timeFrequencies, int condDim, int[] hidden, int outDim, boolean outputLikeX) {

    public MlpSpec {
        hidden = hidden.clone();
        if (xDim < 1 || timeFrequencies < 0 || condDim < 0 || outDim < 1 || (outputLikeX && outDim != xDim)) {
            throw InvalidRequestException.of("mlp spec", "positive xDim/outDim, outDim == xDim when shaped like x",
                    "xDim " + xDim + ", outDim " + outDim);
        }
        for (int h : hidden) {
            if (h < 1) {
                throw InvalidRequestException.of("hidden", "positive widths", Arrays.toString(hidden));
            }
        }
    }

    /**
     * @param dim data dimension
     * @param condDim conditioning width
     * @param width hidden width
     * @param depth hidden layers
     * @return a denoiser: input {@code (x, sigma, pooled)}, output shaped like {@code x}
     */
    public static MlpSpec denoiser(int dim, int condDim, int width, int depth) {
        int[] h = new int[depth];
        Arrays.fill(h, width);
        return new MlpSpec(dim, 6, condDim, h, dim, true);
    }

    /**
     * @param dim data dimension
     * @param condDim conditioning width (0 for none)
     * @param width hidden width
     * @param depth hidden layers
     * @return a discriminator: input {@code (x, pooled)}, one logit per sample
     */
    public static MlpSpec discriminator(int dim, int condDim, int width, int depth) {
        int[] h = new int[depth];
        Arrays.fill(h, width);
        return new MlpSpec(dim, 0, condDim, h, 1, false);
    }

    @Override
    public int[] hidden() {
        return hidden.clone();
    }

    /** @return width of the concatenated input */
    public int inputWidth() {
        return xDim + (timeFrequencies > 0 ? 1 + 2 * timeFrequencies : 0) + condDim;
    }
}
