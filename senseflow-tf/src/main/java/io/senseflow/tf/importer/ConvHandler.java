package io.senseflow.tf.importer;

import io.senseflow.tf.graph.GraphOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;

/**
 * ONNX Conv (1-D and 2-D, any padding mode, strides, dilations, groups) as TensorFlow's NHWC convolutions: CPU
 * kernels of {@code Conv2D} exist only for NHWC, so the input is transposed in and out. Depthwise convolutions use
 * {@code DepthwiseConv2dNative}; other groups are split and concatenated. 3-D convolution is refused (TensorFlow's
 * C++ gradient registry has no {@code Conv3D} gradient). With {@link ImportOptions#computeBfloat16()} an ungrouped
 * convolution against a frozen bfloat16 weight runs in bfloat16 up to the bias; grouped ones stay float32.
 */
final class ConvHandler {
    private ConvHandler() {
    }

    static Value[] conv(NodeContext c) {
        GraphOps o = c.ops();
        int r = c.rank(0);
        int spatial = r - 2;
        if (spatial != 1 && spatial != 2) {
            throw c.fail("only 1-D and 2-D convolutions are supported, got " + spatial + " spatial dimensions");
        }
        long[] xs = c.shape(0);
        if (xs == null || Arrays.stream(xs, 1, xs.length).anyMatch(d -> d < 0)) {
            throw c.fail("Conv needs the channel and spatial sizes of input 0 ('" + c.node().inputs().get(0) + "') at"
                    + " import, but they are " + (xs == null ? "unknown" : Arrays.toString(xs))
                    + "; specialise the graph's input shapes (ImportOptions.inputShape)");
        }
        long[] ws = c.staticShape(1, "Conv");
        long[] kernel = Arrays.copyOfRange(ws, 2, ws.length);
        long[] strides = c.attrInts("strides", ones(spatial));
        long[] dilations = c.attrInts("dilations", ones(spatial));
        long[] in = Arrays.copyOfRange(xs, 2, xs.length);
        long[] begin = new long[spatial];
        long[] end = new long[spatial];
        String autoPad = c.attrString("auto_pad", "NOTSET");
        switch (autoPad) {
            case "NOTSET" -> {
                long[] pads = c.attrInts("pads", new long[2 * spatial]);
                for (int i = 0; i < spatial; i++) {
                    begin[i] = pads[i];
                    end[i] = pads[i + spatial];
                }
            }
            case "VALID" -> {
            }
            case "SAME_UPPER", "SAME_LOWER" -> {
                for (int i = 0; i < spatial; i++) {
                    long out = (in[i] + strides[i] - 1) / strides[i];
                    long total = Math.max(0, (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - in[i]);
                    long small = total / 2;
                    begin[i] = autoPad.equals("SAME_UPPER") ? small : total - small;
                    end[i] = total - begin[i];
                }
            }
            default -> throw c.fail("auto_pad '" + autoPad + "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID");
        }
        long group = c.attrInt("group", 1);
        // bfloat16 compute: only the ungrouped Conv2D path (its bfloat16 kernels and gradients are checked)
        Output<?>[] bf = group == 1 ? c.bfloat16Operands(0, 1) : null;
        if (group != 1) {
            c.float32Fallback(1);
        }
        Output<?> x = bf != null ? bf[0] : c.in(0);
        Output<?> w = bf != null ? bf[1] : c.in(1);
        if (spatial == 1) {
            x = o.binary("ExpandDims", x, o.scalarInt(2));
            w = o.binary("ExpandDims", w, o.scalarInt(2));
            strides = new long[] {1, strides[0]};
            dilations = new long[] {1, dilations[0]};
            begin = new long[] {0, begin[0]};
            end = new long[] {0, end[0]};
            ws = new long[] {ws[0], ws[1], 1, ws[2]};
        }
        long channels = xs[1];
        long outChannels = ws[0];
        if (channels != ws[1] * group) {
            throw c.fail("input has " + channels + " channels but the weight expects " + ws[1] + " x group " + group);
        }
        Output<?> nhwc = o.transpose(x, 0, 2, 3, 1);
        if (!Arrays.stream(new long[] {begin[0], end[0], begin[1], end[1]}).allMatch(p -> p == 0)) {
            // explicit zero padding, then VALID: the C++ Conv2D gradient drops explicit_paddings
            Output<?> pads = o.reshape(o.indices(0, 0, begin[0], end[0], begin[1], end[1], 0, 0), 4, 2);
            nhwc = o.op("PadV2").in(nhwc).in(pads).in(o.scalarOf(0, nhwc.dataType())).out();
        }
        long[] stride4 = {1, strides[0], strides[1], 1};
        long[] dil4 = {1, 1, 1, 1};
        long dh = dilations[0];
        long dwid = dilations[1];
        Output<?> y;
        if (group == 1) {
            y = conv2d(o, "Conv2D", nhwc, dilate(o, o.transpose(w, 2, 3, 1, 0), ws[2], ws[3], dh, dwid), stride4, dil4);
        } else if (group == channels && outChannels % channels == 0) {
            long mult = outChannels / channels;
            Output<?> dw = o.transpose(o.reshape(w, channels, mult, ws[2], ws[3]), 2, 3, 0, 1);
            y = conv2d(o, "DepthwiseConv2dNative", nhwc, dilate(o, dw, ws[2], ws[3], dh, dwid), stride4, dil4);
        } else {
            if (outChannels % group != 0) {
                throw c.fail("output channels " + outChannels + " are not divisible by group " + group);
            }
            GraphOperation xsplit = o.op("Split").in(o.scalarInt(3)).in(nhwc).attr("num_split", group).build();
            GraphOperation wsplit = o.op("Split").in(o.scalarInt(0)).in(w).attr("num_split", group).build();
            List<Output<?>> parts = new ArrayList<>();
            for (int g = 0; g < group; g++) {
                Output<?> wg = dilate(o, o.transpose(wsplit.output(g), 2, 3, 1, 0), ws[2], ws[3], dh, dwid);
                parts.add(conv2d(o, "Conv2D", xsplit.output(g), wg, stride4, dil4));
            }
            y = o.concat(parts, 3);
        }
        y = NnHandlers.toFloat(o, y, bf);
        if (c.has(2)) {
            y = o.binary("AddV2", y, c.in(2));
        }
        y = o.transpose(y, 0, 3, 1, 2);
        if (spatial == 1) {
            y = o.op("Squeeze").in(y).attr("squeeze_dims", new long[] {2}).out();
        }
        return NodeContext.one(y);
    }

    private static Output<?> conv2d(GraphOps o, String type, Output<?> x, Output<?> w, long[] strides, long[] dilations) {
        return o.op(type).in(x).in(w).attr("strides", strides).attr("dilations", dilations).attr("data_format", "NHWC")
                .attr("padding", "VALID").out();
    }

    /**
     * Spreads an HWIO kernel for dilation by inserting zeros between taps. TensorFlow's C++ Conv2D gradients ignore
     * the {@code dilations} attribute (the filter gradient then fails on a size mismatch), so dilated convolutions
     * run as ordinary ones with the spread kernel, which is differentiable with respect to the taps.
     */
    private static Output<?> dilate(GraphOps o, Output<?> w, long kh, long kw, long dh, long dw) {
        Output<?> y = w;
        if (dh > 1) {
            y = spread(o, y, 0, kh, dh);
        }
        if (dw > 1) {
            y = spread(o, y, 1, kw, dw);
        }
        return y;
    }

    private static Output<?> spread(GraphOps o, Output<?> w, int axis, long k, long d) {
        // [.., k, ..] -> [.., k, d, ..] (zeros after each tap) -> [.., k d, ..] -> first (k - 1) d + 1
        Output<?> e = o.binary("ExpandDims", w, o.scalarInt(axis + 1));
        long[] pads = new long[2 * 5];
        pads[2 * (axis + 1) + 1] = d - 1;
        e = o.op("PadV2").in(e).in(o.reshape(o.indices(pads), 5, 2)).in(o.scalarOf(0, w.dataType())).out();
        long[] s = Value.shapeOf(e.shape());
        long[] merged = new long[4];
        for (int i = 0, j = 0; i < 5; i++) {
            if (i == axis + 1) {
                merged[j - 1] *= s[i];
            } else {
                merged[j++] = s[i];
            }
        }
        Output<?> m = o.reshape(e, merged);
        long[] size = merged.clone();
        size[axis] = (k - 1) * d + 1;
        return o.op("Slice").in(m).in(o.indices(0, 0, 0, 0)).in(o.indices(size)).out();
    }

    private static long[] ones(int n) {
        long[] a = new long[n];
        Arrays.fill(a, 1);
        return a;
    }
}
