package io.senseflow.onnx.arch;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One trainable parameter of an architecture: its PyTorch-style name and shape. The ONNX graph holds it as a FLOAT
 * initializer of the same name.
 */
public final class ParameterSpec {
    private final String name;
    private final long[] shape;

    /**
     * @param name the full parameter name, such as {@code transformer_blocks.0.attn.to_q.weight}
     * @param shape the dimensions
     */
    public ParameterSpec(String name, long... shape) {
        this.name = Objects.requireNonNull(name, "name");
        this.shape = shape.clone();
    }

    /** @return the full parameter name */
    public String name() {
        return name;
    }

    /** @return the dimensions (a copy) */
    public long[] shape() {
        return shape.clone();
    }

    /** @return the number of elements */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    /**
     * @param parameters a parameter list
     * @return the total number of elements
     */
    public static long totalElements(List<ParameterSpec> parameters) {
        long n = 0;
        for (ParameterSpec p : parameters) {
            n += p.elementCount();
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ParameterSpec p && p.name.equals(name) && Arrays.equals(p.shape, shape);
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
