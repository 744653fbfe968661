package io.senseflow.train;

import java.util.Arrays;

/**
 * The name and shape of one parameter.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param name the parameter's name (the original name for imported models)
 * @param shape its dimensions
 */
public record ParameterSpec(String name, int... shape) {
    public ParameterSpec {
        shape = shape.clone();
    }

    /**
     * @param name the parameter's name
     * @param dims dimensions as ONNX stores them
     * @return the spec
     * @throws io.senseflow.InvalidRequestException if a dimension does not fit an int
     */
    public static ParameterSpec of(String name, long... dims) {
        int[] s = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 0 || dims[i] > Integer.MAX_VALUE) {
                throw io.senseflow.InvalidRequestException.of("parameter " + name + " dimension " + i,
                        "a size in [0, 2^31)", dims[i]);
            }
            s[i] = (int) dims[i];
        }
        return new ParameterSpec(name, s);
    }

    /** @param specs parameters @return their total number of elements */
    public static long totalSize(java.util.List<ParameterSpec> specs) {
        long n = 0;
        for (ParameterSpec p : specs) {
            n += p.size();
        }
        return n;
    }

    @Override
    public int[] shape() {
        return shape.clone();
    }

    /** @return number of elements */
    public long size() {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ParameterSpec p && name.equals(p.name) && Arrays.equals(shape, p.shape);
    }

    @Override
    public int hashCode() {
        return 31 * name.hashCode() + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + Arrays.toString(shape);
    }
}
