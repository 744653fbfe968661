package io.senseflow.tf.importer;

import io.senseflow.tf.graph.GraphOps;
import java.util.Arrays;
import org.tensorflow.Output;

/**
 * ONNX Resize (opset 11+), modes {@code nearest}, {@code linear} and {@code cubic}, every coordinate transformation except
 * {@code tf_crop_and_resize}. With static input shapes the source coordinates are computed here, in float32 like
 * ONNX Runtime, and the resize becomes one gather per resized axis (plus a blend for linear): exact ONNX semantics
 * for any scale and differentiable with respect to the input. Linear is applied axis by axis (separable), which
 * equals the multilinear formula up to float rounding. Cubic is a product with an interpolation matrix per axis.
 */
final class ResizeHandler {
    private ResizeHandler() {
    }

    static Value[] resize(NodeContext c) {
        if (c.opset() < 11) {
            throw c.fail("Resize before opset 11 (Upsample semantics) is not supported");
        }
        String mode = c.attrString("mode", "nearest");
        if (!mode.equals("nearest") && !mode.equals("linear") && !mode.equals("cubic")) {
            throw c.fail("mode '" + mode + "' is not supported (nearest, linear and cubic are)");
        }
        String coord = c.attrString("coordinate_transformation_mode", "half_pixel");
        if (coord.equals("tf_crop_and_resize")) {
            throw c.fail("coordinate_transformation_mode tf_crop_and_resize is not supported");
        }
        if (c.attrInt("antialias", 0) != 0) {
            throw c.fail("antialias=1 is not supported");
        }
        String policy = c.attrString("keep_aspect_ratio_policy", "stretch");
        if (!policy.equals("stretch")) {
            throw c.fail("keep_aspect_ratio_policy '" + policy + "' is not supported (stretch is)");
        }
        String nearestMode = c.attrString("nearest_mode", "round_prefer_floor");
        long[] in = c.shape(0);
        if (in == null) {
            throw c.fail("Resize needs the rank of input 0 to be known at import; specialise the graph's input shapes"
                    + " (ImportOptions.inputShape)");
        }
        int r = in.length;
        long[] axesAttr = c.attrInts("axes", null);
        int[] axes = new int[axesAttr == null ? r : axesAttr.length];
        for (int i = 0; i < axes.length; i++) {
            axes[i] = axesAttr == null ? i : c.axis(axesAttr[i], r);
        }
        boolean hasSizes = c.has(3) && c.shape(3) != null && c.shape(3).length == 1 && c.shape(3)[0] != 0;
        float[] scale = new float[r];
        long[] out = in.clone();
        Arrays.fill(scale, 1f);
        if (hasSizes) {
            long[] sizes = c.constLongs(3, "sizes");
            check(c, sizes.length, axes.length, "sizes");
            for (int i = 0; i < axes.length; i++) {
                int a = axes[i];
                out[a] = sizes[i];
                scale[a] = (float) sizes[i] / in[a];
            }
        } else {
            double[] scales = c.constDoubles(2, "scales");
            check(c, scales.length, axes.length, "scales");
            for (int i = 0; i < axes.length; i++) {
                int a = axes[i];
                scale[a] = (float) scales[i];
                out[a] = in[a] < 0 ? -1 : (long) (scale[a] * in[a]);
            }
        }
        for (int a = 0; a < r; a++) {
            boolean resized = !(out[a] == in[a] && scale[a] == 1f);
            if (resized && in[a] < 0) {
                throw c.fail("Resize needs the size of resized axis " + a + " of input 0 ('" + c.node().inputs().get(0)
                        + "') at import, but the input is " + Arrays.toString(in) + "; specialise the graph's input"
                        + " shapes (ImportOptions.inputShape)");
            }
        }
        GraphOps o = c.ops();
        Output<?> y = c.in(0);
        for (int a = 0; a < r; a++) {
            if (out[a] == in[a] && scale[a] == 1f) {
                continue;
            }
            if (out[a] <= 0) {
                throw c.fail("output size " + out[a] + " on axis " + a);
            }
            int n = (int) out[a];
            if (mode.equals("cubic")) {
                y = cubic(c, o, y, a, r, coord, scale[a], in, out);
                continue;
            }
            long[] i0 = new long[n];
            long[] i1 = new long[n];
            float[] w = new float[n];
            for (int x = 0; x < n; x++) {
                float src = source(c, coord, x, scale[a], in[a], out[a]);
                if (mode.equals("nearest")) {
                    long k = nearest(c, nearestMode, src);
                    i0[x] = Math.max(0, Math.min(in[a] - 1, k));
                } else {
                    float s = Math.max(0f, Math.min(src, (float) (in[a] - 1)));
                    long k = (long) Math.floor(s);
                    i0[x] = k;
                    i1[x] = Math.min(k + 1, in[a] - 1);
                    w[x] = s - k;
                }
            }
            Output<?> g0 = o.op("GatherV2").in(y).in(o.longs(i0)).in(o.scalarInt(a)).out();
            if (mode.equals("nearest")) {
                y = g0;
                continue;
            }
            Output<?> g1 = o.op("GatherV2").in(y).in(o.longs(i1)).in(o.scalarInt(a)).out();
            long[] ws = new long[r];
            Arrays.fill(ws, 1);
            ws[a] = n;
            Output<?> weight = o.cast(o.reshape(o.constant(io.senseflow.onnx.ir.TensorValue.ofFloats("w", w, n)), ws),
                    y.dataType());
            y = o.binary("AddV2", g0, o.binary("Mul", o.binary("Sub", g1, g0), weight));
        }
        return NodeContext.one(y == c.in(0) ? o.identity(y) : y);
    }

    /**
     * Cubic interpolation along one axis as a product with an interpolation matrix computed here: {@code W[o][i]}
     * holds the weights of the four taps {@code floor(s) - 1 .. floor(s) + 2} of output {@code o} (Keys' kernel with
     * {@code cubic_coeff_a}; taps past the edge clamp to it, or with {@code exclude_outside} get weight 0 and the
     * rest is renormalised), as ONNX Runtime computes them. A MatMul is exact to float rounding and differentiable.
     */
    private static Output<?> cubic(NodeContext c, GraphOps o, Output<?> y, int axis, int rank, String coord, float scale,
                                   long[] in, long[] out) {
        double a = c.attrFloat("cubic_coeff_a", -0.75f);
        boolean exclude = c.attrInt("exclude_outside", 0) == 1;
        int nIn = (int) in[axis];
        int nOut = (int) out[axis];
        double[] wt = new double[nIn * nOut]; // W transposed: [in, out]
        for (int x = 0; x < nOut; x++) {
            float src = source(c, coord, x, scale, in[axis], out[axis]);
            double base = Math.floor(src);
            double t = src - base;
            double[] w = {keys(t + 1, a), keys(t, a), keys(1 - t, a), keys(2 - t, a)};
            if (exclude) {
                double sum = 0;
                for (int k = 0; k < 4; k++) {
                    long idx = (long) base - 1 + k;
                    if (idx < 0 || idx >= nIn) {
                        w[k] = 0;
                    }
                    sum += w[k];
                }
                for (int k = 0; k < 4; k++) {
                    w[k] = sum == 0 ? 0 : w[k] / sum;
                }
            }
            for (int k = 0; k < 4; k++) {
                long idx = Math.max(0, Math.min(nIn - 1, (long) base - 1 + k));
                wt[(int) idx * nOut + x] += w[k];
            }
        }
        Output<?> m = o.cast(o.constant(io.senseflow.onnx.ir.TensorValue.ofDoubles("cubic_weights", wt, nIn, nOut)),
                y.dataType());
        long[] cur = Value.shapeOf(y.shape());
        int[] perm = new int[rank];
        int[] inverse = new int[rank];
        int k = 0;
        for (int d = 0; d < rank; d++) {
            if (d != axis) {
                perm[k++] = d;
            }
        }
        perm[rank - 1] = axis;
        long[] moved = new long[rank];
        for (int d = 0; d < rank; d++) {
            inverse[perm[d]] = d;
            moved[d] = cur[perm[d]];
        }
        Output<?> x = axis == rank - 1 ? y : o.transpose(y, perm);
        Output<?> z = o.binary("MatMul", o.reshape(x, -1, nIn), m);
        moved[rank - 1] = nOut;
        if (Arrays.stream(moved).filter(d -> d < 0).count() <= 1) {
            z = o.reshape(z, moved);
        } else {
            Output<?> lead = o.op("Slice").in(o.shapeOf(x)).in(o.longs(0)).in(o.longs(rank - 1)).out();
            z = o.op("Reshape").in(z).in(o.concat(java.util.List.of(lead, o.longs(nOut)), 0)).out();
        }
        return axis == rank - 1 ? z : o.transpose(z, inverse);
    }

    /** Keys' cubic convolution kernel at distance d (0 <= d <= 2) with coefficient a. */
    private static double keys(double d, double a) {
        d = Math.abs(d);
        if (d <= 1) {
            return ((a + 2) * d - (a + 3)) * d * d + 1;
        }
        if (d < 2) {
            return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
        }
        return 0;
    }

    private static void check(NodeContext c, int got, int want, String what) {
        if (got != want) {
            throw c.fail(what + " has " + got + " values, expected " + want);
        }
    }

    private static float source(NodeContext c, String mode, int x, float scale, long in, long out) {
        return switch (mode) {
            case "half_pixel" -> (x + 0.5f) / scale - 0.5f;
            case "pytorch_half_pixel" -> out > 1 ? (x + 0.5f) / scale - 0.5f : 0f;
            case "align_corners" -> out == 1 ? 0f : x * (float) (in - 1) / (float) (out - 1);
            case "asymmetric" -> x / scale;
            case "tf_half_pixel_for_nn" -> (x + 0.5f) / scale;
            case "half_pixel_symmetric" -> {
                float adjustment = out / (scale * in);
                float center = in / 2f;
                float offset = center * (1 - adjustment);
                yield offset + (x + 0.5f) / scale - 0.5f;
            }
            default -> throw c.fail("coordinate_transformation_mode '" + mode + "' is not supported");
        };
    }

    private static long nearest(NodeContext c, String mode, float v) {
        return switch (mode) {
            case "round_prefer_floor" -> v == Math.floor(v) + 0.5f ? (long) Math.floor(v) : Math.round(v);
            case "round_prefer_ceil" -> v == Math.floor(v) + 0.5f ? (long) Math.ceil(v) : Math.round(v);
            case "floor" -> (long) Math.floor(v);
            case "ceil" -> (long) Math.ceil(v);
            default -> throw c.fail("nearest_mode '" + mode + "' is not supported");
        };
    }
}
