package io.senseflow.tf.discriminator;

import io.senseflow.InvalidRequestException;
import java.util.Arrays;

/**
 * How images reach the backbone (docs/algorithm.md §5): resized to the backbone's input size (bilinear, differentiable),
 * mapped from the generator's value range to [0, 1], and normalised per channel, {@code (x01 - mean) / std}. All
 * three are linear, so they run in the graph as two matrix products and one per-channel affine map, and the input
 * gradient passes through them exactly.
 *
 * <p>Resizing samples at pixel centres (half-pixel coordinates, edges clamped), like PyTorch's
 * {@code interpolate(mode="bilinear", align_corners=False)}. With {@code antialias} a downscale uses a triangle
 * filter as wide as the scale factor (PyTorch's {@code antialias=True}), so small details do not alias; an upscale
 * is plain bilinear either way.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param height the backbone's input height, or 0 for the graph's declared size
 * @param width the backbone's input width, or 0 for the graph's declared size
 * @param antialias whether downscaling filters
 * @param low the image value that maps to 0 (-1 for the SDK's decoded images)
 * @param high the image value that maps to 1
 * @param mean per-channel mean subtracted after the mapping to [0, 1]
 * @param std per-channel standard deviation divided by
 */
public record Preprocessing(int height, int width, boolean antialias, double low, double high, double[] mean,
                            double[] std) {
    /** ImageNet's channel means (RGB), as DINOv2 expects. */
    public static final double[] IMAGENET_MEAN = {0.485, 0.456, 0.406};
    /** ImageNet's channel standard deviations (RGB). */
    public static final double[] IMAGENET_STD = {0.229, 0.224, 0.225};

    public Preprocessing {
        if (height < 0 || width < 0 || (height == 0) != (width == 0)) {
            throw InvalidRequestException.of("preprocessing size", "both > 0, or both 0 for the graph's size",
                    height + "x" + width);
        }
        if (!(high > low) || !Double.isFinite(low) || !Double.isFinite(high)) {
            throw InvalidRequestException.of("preprocessing value range", "low < high, finite", low + ".." + high);
        }
        if (mean == null || std == null || mean.length != std.length || mean.length == 0) {
            throw InvalidRequestException.of("preprocessing mean/std", "one value per channel each",
                    Arrays.toString(mean) + " / " + Arrays.toString(std));
        }
        for (double s : std) {
            if (!(s > 0) || !Double.isFinite(s)) {
                throw InvalidRequestException.of("preprocessing std", "finite values > 0", Arrays.toString(std));
            }
        }
        mean = mean.clone();
        std = std.clone();
    }

    /** @return images in [-1, 1], ImageNet normalisation, the graph's declared size, antialiased downscaling */
    public static Preprocessing imagenet() {
        return new Preprocessing(0, 0, true, -1, 1, IMAGENET_MEAN, IMAGENET_STD);
    }

    /**
     * @param channels number of channels
     * @return no change of values (range [0, 1], mean 0, std 1), the graph's declared size
     */
    public static Preprocessing identity(int channels) {
        double[] zeros = new double[channels];
        double[] ones = new double[channels];
        Arrays.fill(ones, 1);
        return new Preprocessing(0, 0, true, 0, 1, zeros, ones);
    }

    /** @param h backbone input height @param w backbone input width @return a copy resizing to that size */
    public Preprocessing withSize(int h, int w) {
        return new Preprocessing(h, w, antialias, low, high, mean, std);
    }

    /** @param on filter when downscaling @return a copy */
    public Preprocessing withAntialias(boolean on) {
        return new Preprocessing(height, width, on, low, high, mean, std);
    }

    /** @param lo maps to 0 @param hi maps to 1 @return a copy with that input value range */
    public Preprocessing withRange(double lo, double hi) {
        return new Preprocessing(height, width, antialias, lo, hi, mean, std);
    }

    @Override
    public double[] mean() {
        return mean.clone();
    }

    @Override
    public double[] std() {
        return std.clone();
    }

    /** @return per channel, the scale of {@code y = scale x + offset} (range mapping and normalisation together) */
    double[] scales() {
        double[] a = new double[mean.length];
        for (int c = 0; c < a.length; c++) {
            a[c] = 1 / ((high - low) * std[c]);
        }
        return a;
    }

    /** @return per channel, the offset of {@code y = scale x + offset} */
    double[] offsets() {
        double[] b = new double[mean.length];
        for (int c = 0; c < b.length; c++) {
            b[c] = (-low / (high - low) - mean[c]) / std[c];
        }
        return b;
    }

    /**
     * The resize as a matrix: {@code out[i] = sum_j m[i][j] in[j]} along one axis.
     *
     * @param in input size
     * @param out output size
     * @param antialias filter when downscaling
     * @return {@code [out][in]} weights, rows summing to 1
     */
    static double[][] resizeMatrix(int in, int out, boolean antialias) {
        double[][] m = new double[out][in];
        double scale = (double) in / out;
        if (antialias && scale > 1) {
            // triangle filter of half-width `scale` around each output centre, renormalised at the borders
            for (int i = 0; i < out; i++) {
                double centre = (i + 0.5) * scale;
                int lo = (int) Math.max(0, Math.floor(centre - scale));
                int hi = (int) Math.min(in, Math.ceil(centre + scale));
                double total = 0;
                for (int j = lo; j < hi; j++) {
                    double wgt = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / scale));
                    m[i][j] = wgt;
                    total += wgt;
                }
                for (int j = lo; j < hi; j++) {
                    m[i][j] /= total;
                }
            }
            return m;
        }
        for (int i = 0; i < out; i++) {
            double src = Math.max(0, (i + 0.5) * scale - 0.5);
            int j0 = Math.min((int) Math.floor(src), in - 1);
            int j1 = Math.min(j0 + 1, in - 1);
            double t = src - j0;
            m[i][j0] += 1 - t;
            m[i][j1] += t;
        }
        return m;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Preprocessing p && p.height == height && p.width == width && p.antialias == antialias
                && p.low == low && p.high == high && Arrays.equals(p.mean, mean) && Arrays.equals(p.std, std);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(new double[] {height, width, antialias ? 1 : 0, low, high}) * 31 + Arrays.hashCode(mean)
                + 7 * Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return "Preprocessing[" + (height == 0 ? "graph size" : height + "x" + width) + (antialias ? ", antialias" : "")
                + ", [" + low + ", " + high + "] -> [0, 1], mean " + Arrays.toString(mean) + ", std "
                + Arrays.toString(std) + "]";
    }
}
