package io.senseflow.onnx.safetensors;

import java.util.Arrays;
import java.util.Objects;

/**
 * One tensor's header entry in a safetensors file.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class TensorInfo {
    private final String name;
    private final SafetensorsDtype dtype;
    private final long[] shape;
    private final long begin;
    private final long end;

    TensorInfo(String name, SafetensorsDtype dtype, long[] shape, long begin, long end) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape;
        this.begin = begin;
        this.end = end;
    }

    /** @return the tensor name */
    public String name() {
        return name;
    }

    /** @return the element type */
    public SafetensorsDtype dtype() {
        return dtype;
    }

    /** @return a copy of the shape */
    public long[] shape() {
        return shape.clone();
    }

    /** @return the number of elements (1 for a scalar) */
    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d; // validated when the header was read
        }
        return n;
    }

    /** @return the start of the data, relative to the data section */
    public long begin() {
        return begin;
    }

    /** @return the end of the data (exclusive), relative to the data section */
    public long end() {
        return end;
    }

    /** @return the payload size in bytes */
    public long byteSize() {
        return end - begin;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape)
                && begin == t.begin && end == t.end;
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), begin, end);
    }

    @Override
    public String toString() {
        return name + ": " + dtype + Arrays.toString(shape) + " [" + begin + ", " + end + ")";
    }
}
