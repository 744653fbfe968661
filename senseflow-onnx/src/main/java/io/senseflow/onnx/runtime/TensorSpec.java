package io.senseflow.onnx.runtime;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import java.util.List;
import java.util.Objects;

/**
 * A model input or output as ONNX Runtime declares it: name, element type and dimensions (fixed, symbolic such as
 * {@code batch}, or unknown).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param name the input or output name
 * @param elementType the element type
 * @param shape the dimensions; empty for a scalar
 */
public record TensorSpec(String name, DataType elementType, List<Dim> shape) {
    /** Checks and copies the fields. */
    public TensorSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(elementType, "elementType");
        shape = List.copyOf(shape);
    }

    /** @return the number of dimensions */
    public int rank() {
        return shape.size();
    }

    /** @return whether the value is a scalar (rank 0) */
    public boolean isScalar() {
        return shape.isEmpty();
    }

    /** @param axis a dimension @return its fixed size, or -1 when it is symbolic or unknown */
    public long fixedDim(int axis) {
        return shape.get(axis) instanceof Dim.Fixed f ? f.value() : -1;
    }

    /** @return whether the elements are floating point (FLOAT, FLOAT16, BFLOAT16, DOUBLE) */
    public boolean isFloatingPoint() {
        return elementType.isFloatingPoint();
    }

    @Override
    public String toString() {
        return name + ": " + elementType + " " + shape;
    }
}
