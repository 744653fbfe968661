package io.senseflow.onnx.ir;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * One dimension of a declared tensor shape: a fixed size, a symbolic name shared by dimensions that must agree
 * (such as {@code "batch"}), or unknown.
 *
 * <p>Its implementations are immutable records: safe to share between threads.
 */
public sealed interface Dim permits Dim.Fixed, Dim.Symbolic, Dim.Unknown {

    /**
     * A dimension of known size ({@code dim_value}).
     *
     * @param value the size; non-negative in valid models (kept as read otherwise)
     */
    record Fixed(long value) implements Dim {
        @Override
        public String toString() {
            return Long.toString(value);
        }
    }

    /**
     * A named dimension ({@code dim_param}); all dimensions with the same name have the same size at run time.
     *
     * @param name the name, not empty
     */
    record Symbolic(String name) implements Dim {
        /** Checks the name. */
        public Symbolic {
            Objects.requireNonNull(name, "name");
        }

        @Override
        public String toString() {
            return name;
        }
    }

    /** A dimension with neither a size nor a name. */
    record Unknown() implements Dim {
        @Override
        public String toString() {
            return "?";
        }
    }

    /**
     * @param size a non-negative size
     * @return a fixed dimension
     */
    static Dim of(long size) {
        if (size < 0) {
            throw new IllegalArgumentException("dimension size must be non-negative, got " + size);
        }
        return new Fixed(size);
    }

    /**
     * @param name a non-empty name such as {@code "batch"}
     * @return a symbolic dimension
     */
    static Dim symbolic(String name) {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a symbolic dimension needs a non-empty name");
        }
        return new Symbolic(name);
    }

    /** @return an unknown dimension */
    static Dim unknown() {
        return new Unknown();
    }

    /**
     * @param sizes non-negative sizes
     * @return fixed dimensions
     */
    static List<Dim> fixed(long... sizes) {
        List<Dim> out = new ArrayList<>(sizes.length);
        for (long s : sizes) {
            out.add(of(s));
        }
        return List.copyOf(out);
    }

    /** @return whether this dimension has a known size */
    default boolean isFixed() {
        return this instanceof Fixed;
    }
}
