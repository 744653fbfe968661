package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.Set;

/**
 * Differentiable augmentation before the discriminator (docs/algorithm.md §4.4; the policy of Zhao et al., 2020,
 * "Differentiable Augmentation for Data-Efficient GAN Training"): colour (brightness, saturation, contrast), integer
 * translation with zero fill, and cutout, on batches {@code [B, C, H, W]} of images in [-1, 1]. Every sample gets
 * its own parameters, drawn from the {@link RandomStream} the engine passes (seven uniforms per sample, in a fixed
 * order whichever operations are on, so turning one off does not change the others' draws). For fixed parameters
 * the map is affine in the input; {@link Augmentation.Applied#backward} is its exact transpose.
 *
 * <ul>
 *   <li>brightness: {@code y = x + b}, {@code b ~ U(-0.5, 0.5)};</li>
 *   <li>saturation: {@code y = a (x - m) + m}, {@code m} the mean over channels per pixel, {@code a ~ U(0, 2)};</li>
 *   <li>contrast: {@code y = a (x - m) + m}, {@code m} the mean over the whole sample, {@code a ~ U(0.5, 1.5)};</li>
 *   <li>translation: shift by integers in {@code [-round(r H), round(r H)]} (and likewise for W), zeros shifted in;
 *       default {@code r = 1/8};</li>
 *   <li>cutout: zero a {@code round(r H) x round(r W)} rectangle at a random centre (clipped at the border);
 *       default {@code r = 1/2}.</li>
 * </ul>
 *
 * <p>Colour operations assume images; for latents (the discriminator on the fake score's features) use
 * {@link #geometric()}.
 *
 * <p>Immutable (the randomness comes from the stream the caller passes): safe to share between threads.
 */
public final class DiffAugment implements Augmentation {
    /** The operations, applied in this order. */
    public enum Op {
        /** Add a per-sample offset. */
        BRIGHTNESS,
        /** Scale the deviation from the per-pixel channel mean. */
        SATURATION,
        /** Scale the deviation from the per-sample mean. */
        CONTRAST,
        /** Integer shift with zero fill. */
        TRANSLATION,
        /** Zero a rectangle. */
        CUTOUT
    }

    private static final int DRAWS_PER_SAMPLE = 7;

    private final EnumSet<Op> ops;
    private final double translationRatio;
    private final double cutoutRatio;

    /**
     * @param ops the operations to apply
     * @param translationRatio largest shift as a fraction of the size, in [0, 1)
     * @param cutoutRatio cutout size as a fraction of the size, in [0, 1]
     */
    public DiffAugment(Set<Op> ops, double translationRatio, double cutoutRatio) {
        if (ops == null) {
            throw InvalidRequestException.of("augmentation ops", "a set", "null");
        }
        if (!(translationRatio >= 0 && translationRatio < 1)) {
            throw InvalidRequestException.of("augmentation translationRatio", "a fraction in [0, 1)", translationRatio);
        }
        if (!(cutoutRatio >= 0 && cutoutRatio <= 1)) {
            throw InvalidRequestException.of("augmentation cutoutRatio", "a fraction in [0, 1]", cutoutRatio);
        }
        this.ops = ops.isEmpty() ? EnumSet.noneOf(Op.class) : EnumSet.copyOf(ops);
        this.translationRatio = translationRatio;
        this.cutoutRatio = cutoutRatio;
    }

    /** @return DiffAugment's {@code color,translation,cutout} policy with ratios 1/8 and 1/2 */
    public static DiffAugment standard() {
        return new DiffAugment(EnumSet.allOf(Op.class), 0.125, 0.5);
    }

    /** @return translation and cutout only (for latents, where colour operations mean nothing) */
    public static DiffAugment geometric() {
        return new DiffAugment(EnumSet.of(Op.TRANSLATION, Op.CUTOUT), 0.125, 0.5);
    }

    /** @return the operations applied */
    public Set<Op> ops() {
        return EnumSet.copyOf(ops);
    }

    /** Per-sample parameters of one application. */
    private record Params(float brightness, float saturation, float contrast, int shiftY, int shiftX, int cutY0,
                         int cutY1, int cutX0, int cutX1) {
    }

    @Override
    public Applied apply(Tensor images, RandomStream rng) {
        int[] shape = images.shape();
        if (shape.length != 4) {
            throw InvalidRequestException.of("augmentation input", "a batch [B, C, H, W]", Arrays.toString(shape));
        }
        int batch = shape[0];
        int c = shape[1];
        int h = shape[2];
        int w = shape[3];
        Params[] params = new Params[batch];
        int maxDy = (int) (h * translationRatio + 0.5);
        int maxDx = (int) (w * translationRatio + 0.5);
        int cutH = (int) (h * cutoutRatio + 0.5);
        int cutW = (int) (w * cutoutRatio + 0.5);
        for (int b = 0; b < batch; b++) {
            double[] u = new double[DRAWS_PER_SAMPLE];
            for (int k = 0; k < u.length; k++) {
                u[k] = rng.nextUniform();
            }
            int dy = ops.contains(Op.TRANSLATION) ? pick(u[3], -maxDy, maxDy) : 0;
            int dx = ops.contains(Op.TRANSLATION) ? pick(u[4], -maxDx, maxDx) : 0;
            int y0 = 0;
            int y1 = 0;
            int x0 = 0;
            int x1 = 0;
            if (ops.contains(Op.CUTOUT) && cutH > 0 && cutW > 0) {
                int cy = pick(u[5], 0, h - 1 + (1 - cutH % 2));
                int cx = pick(u[6], 0, w - 1 + (1 - cutW % 2));
                y0 = Math.max(0, cy - cutH / 2);
                y1 = Math.min(h, cy - cutH / 2 + cutH);
                x0 = Math.max(0, cx - cutW / 2);
                x1 = Math.min(w, cx - cutW / 2 + cutW);
            }
            params[b] = new Params(ops.contains(Op.BRIGHTNESS) ? (float) (u[0] - 0.5) : 0f,
                    ops.contains(Op.SATURATION) ? (float) (2 * u[1]) : 1f,
                    ops.contains(Op.CONTRAST) ? (float) (u[2] + 0.5) : 1f, dy, dx, y0, y1, x0, x1);
        }
        float[] x = images.toArray();
        int plane = h * w;
        int per = c * plane;
        for (int b = 0; b < batch; b++) {
            Params p = params[b];
            int o = b * per;
            if (p.brightness() != 0f) {
                for (int i = o; i < o + per; i++) {
                    x[i] += p.brightness();
                }
            }
            if (ops.contains(Op.SATURATION)) {
                for (int q = 0; q < plane; q++) {
                    double m = 0;
                    for (int ch = 0; ch < c; ch++) {
                        m += x[o + ch * plane + q];
                    }
                    float mean = (float) (m / c);
                    for (int ch = 0; ch < c; ch++) {
                        int i = o + ch * plane + q;
                        x[i] = p.saturation() * (x[i] - mean) + mean;
                    }
                }
            }
            if (ops.contains(Op.CONTRAST)) {
                double m = 0;
                for (int i = o; i < o + per; i++) {
                    m += x[i];
                }
                float mean = (float) (m / per);
                for (int i = o; i < o + per; i++) {
                    x[i] = p.contrast() * (x[i] - mean) + mean;
                }
            }
            shiftInto(x, o, c, h, w, p.shiftY(), p.shiftX(), false);
            cut(x, o, c, h, w, p);
        }
        Tensor out = Tensor.wrap(x, shape);
        return new Applied() {
            @Override
            public Tensor output() {
                return out;
            }

            @Override
            public Tensor backward(Tensor gradient) {
                if (!Arrays.equals(gradient.shape(), shape)) {
                    throw InvalidRequestException.of("augmentation backward gradient", "shape " + Arrays.toString(shape),
                            Arrays.toString(gradient.shape()));
                }
                return transpose(gradient.toArray(), params, shape);
            }
        };
    }

    /** The transpose of the affine map's linear part, operations in reverse order. */
    private Tensor transpose(float[] g, Params[] params, int[] shape) {
        int c = shape[1];
        int h = shape[2];
        int w = shape[3];
        int plane = h * w;
        int per = c * plane;
        for (int b = 0; b < params.length; b++) {
            Params p = params[b];
            int o = b * per;
            cut(g, o, c, h, w, p);
            shiftInto(g, o, c, h, w, p.shiftY(), p.shiftX(), true);
            if (ops.contains(Op.CONTRAST)) {
                double s = 0;
                for (int i = o; i < o + per; i++) {
                    s += g[i];
                }
                float share = (float) ((1 - (double) p.contrast()) * s / per);
                for (int i = o; i < o + per; i++) {
                    g[i] = p.contrast() * g[i] + share;
                }
            }
            if (ops.contains(Op.SATURATION)) {
                for (int q = 0; q < plane; q++) {
                    double s = 0;
                    for (int ch = 0; ch < c; ch++) {
                        s += g[o + ch * plane + q];
                    }
                    float share = (float) ((1 - (double) p.saturation()) * s / c);
                    for (int ch = 0; ch < c; ch++) {
                        int i = o + ch * plane + q;
                        g[i] = p.saturation() * g[i] + share;
                    }
                }
            }
            // brightness: the identity on gradients
        }
        return Tensor.wrap(g, shape);
    }

    /**
     * Forward: {@code y[i, j] = x[i + dy, j + dx]} (0 outside). Transpose: {@code x'[i + dy, j + dx] = y[i, j]}.
     */
    private static void shiftInto(float[] a, int o, int c, int h, int w, int dy, int dx, boolean transpose) {
        if (dy == 0 && dx == 0) {
            return;
        }
        int plane = h * w;
        float[] tmp = new float[plane];
        for (int ch = 0; ch < c; ch++) {
            int base = o + ch * plane;
            Arrays.fill(tmp, 0f);
            for (int i = 0; i < h; i++) {
                int si = i + dy;
                if (si < 0 || si >= h) {
                    continue;
                }
                for (int j = 0; j < w; j++) {
                    int sj = j + dx;
                    if (sj < 0 || sj >= w) {
                        continue;
                    }
                    if (transpose) {
                        tmp[si * w + sj] = a[base + i * w + j];
                    } else {
                        tmp[i * w + j] = a[base + si * w + sj];
                    }
                }
            }
            System.arraycopy(tmp, 0, a, base, plane);
        }
    }

    private static void cut(float[] a, int o, int c, int h, int w, Params p) {
        if (p.cutY1() <= p.cutY0() || p.cutX1() <= p.cutX0()) {
            return;
        }
        int plane = h * w;
        for (int ch = 0; ch < c; ch++) {
            for (int i = p.cutY0(); i < p.cutY1(); i++) {
                Arrays.fill(a, o + ch * plane + i * w + p.cutX0(), o + ch * plane + i * w + p.cutX1(), 0f);
            }
        }
    }

    /** @return a uniform integer in [lo, hi] from a uniform in (0, 1) */
    private static int pick(double u, int lo, int hi) {
        return lo + (int) Math.min(hi - lo, Math.floor(u * (hi - lo + 1)));
    }

    @Override
    public String toString() {
        return "DiffAugment" + ops + "[translation " + translationRatio + ", cutout " + cutoutRatio + "]";
    }
}
