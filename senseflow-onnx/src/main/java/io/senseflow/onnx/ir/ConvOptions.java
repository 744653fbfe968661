package io.senseflow.onnx.ir;

import io.senseflow.InvalidRequestException;
import java.util.Arrays;

/**
 * Attributes of a {@code Conv} node for {@link GraphBuilder#conv(String, String, String, ConvOptions)}. Empty
 * arrays leave the attribute out, so ONNX's defaults apply (stride 1, no padding, dilation 1); the kernel shape is
 * always taken from the weight.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class ConvOptions {
    private static final ConvOptions DEFAULTS = new ConvOptions(new long[0], new long[0], new long[0], 1);

    private final long[] strides;
    private final long[] pads;
    private final long[] dilations;
    private final long group;

    private ConvOptions(long[] strides, long[] pads, long[] dilations, long group) {
        this.strides = strides;
        this.pads = pads;
        this.dilations = dilations;
        this.group = group;
    }

    /** @return stride 1, no padding, dilation 1, one group */
    public static ConvOptions defaults() {
        return DEFAULTS;
    }

    /**
     * Square kernels made simple: the same stride and symmetric padding on both spatial axes of a 2-D convolution.
     *
     * @param stride the stride
     * @param padding padding on every side
     * @return the options
     */
    public static ConvOptions of2d(long stride, long padding) {
        return DEFAULTS.withStrides(stride, stride).withPads(padding, padding, padding, padding);
    }

    /** @param values one stride per spatial axis @return a copy with these strides */
    public ConvOptions withStrides(long... values) {
        return new ConvOptions(positive("strides", values), pads, dilations, group);
    }

    /**
     * @param values begin paddings for each spatial axis, then end paddings ({@code [top, left, bottom, right]} in 2-D)
     * @return a copy with these paddings
     */
    public ConvOptions withPads(long... values) {
        for (long v : values) {
            if (v < 0) {
                throw InvalidRequestException.of("Conv pads", "non-negative values", Arrays.toString(values));
            }
        }
        if (values.length % 2 != 0) {
            throw InvalidRequestException.of("Conv pads", "begin and end values for each spatial axis", Arrays.toString(values));
        }
        return new ConvOptions(strides, values.clone(), dilations, group);
    }

    /** @param values one dilation per spatial axis @return a copy with these dilations */
    public ConvOptions withDilations(long... values) {
        return new ConvOptions(strides, pads, positive("dilations", values), group);
    }

    /** @param groups the number of groups (channels for a depthwise convolution) @return a copy with it */
    public ConvOptions withGroup(long groups) {
        if (groups < 1) {
            throw InvalidRequestException.of("Conv group", ">= 1", groups);
        }
        return new ConvOptions(strides, pads, dilations, groups);
    }

    /** @return the strides, empty for the default */
    public long[] strides() {
        return strides.clone();
    }

    /** @return the paddings, empty for the default */
    public long[] pads() {
        return pads.clone();
    }

    /** @return the dilations, empty for the default */
    public long[] dilations() {
        return dilations.clone();
    }

    /** @return the number of groups */
    public long group() {
        return group;
    }

    private static long[] positive(String what, long[] values) {
        for (long v : values) {
            if (v < 1) {
                throw InvalidRequestException.of("Conv " + what, "values >= 1", Arrays.toString(values));
            }
        }
        return values.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ConvOptions c && Arrays.equals(strides, c.strides) && Arrays.equals(pads, c.pads)
                && Arrays.equals(dilations, c.dilations) && group == c.group;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(strides) * 31 + Arrays.hashCode(pads) * 17 + Arrays.hashCode(dilations) + (int) group;
    }

    @Override
    public String toString() {
        return "ConvOptions[strides " + Arrays.toString(strides) + ", pads " + Arrays.toString(pads) + ", dilations "
                + Arrays.toString(dilations) + ", group " + group + "]";
    }
}
