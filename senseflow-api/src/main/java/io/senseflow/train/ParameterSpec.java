package io.senseflow.train;

import java.util.Arrays;

/**
 * The name and shape of one parameter.
 *
 * @param name the parameter's name (the original name for imported models)
 * @param shape its dimensions
 */
public record ParameterSpec(String name, int[] shape) {
    public ParameterSpec {
        shape = shape.clone();
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
