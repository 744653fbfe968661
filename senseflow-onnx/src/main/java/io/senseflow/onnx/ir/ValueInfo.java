package io.senseflow.onnx.ir;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A named value's declared type ({@code ValueInfoProto} with a tensor {@code TypeProto}): graph inputs, outputs and
 * optional intermediate annotations.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param name the value name
 * @param elementType the tensor element type; {@link DataType#UNDEFINED} when not declared or not a tensor
 * @param shape the dimensions, or null when the rank is unknown (an empty list is a scalar)
 * @param docString documentation, empty when absent
 * @param typeExtras fields of the {@code TypeProto} other than the tensor type (sequence, map, optional types,
 *     denotation), kept verbatim
 * @param unknownFields other fields of the {@code ValueInfoProto}, kept verbatim
 */
public record ValueInfo(String name, DataType elementType, List<Dim> shape, String docString,
                        UnknownFields typeExtras, UnknownFields unknownFields) {
    /** Checks and copies the fields. */
    public ValueInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(elementType, "elementType");
        shape = shape == null ? null : List.copyOf(shape);
        Objects.requireNonNull(docString, "docString");
        Objects.requireNonNull(typeExtras, "typeExtras");
        Objects.requireNonNull(unknownFields, "unknownFields");
    }

    /**
     * A tensor value with a known rank.
     *
     * @param name the value name
     * @param elementType the element type
     * @param shape the dimensions (none for a scalar)
     * @return the value info
     */
    public static ValueInfo tensor(String name, DataType elementType, Dim... shape) {
        return new ValueInfo(name, elementType, Arrays.asList(shape), "", UnknownFields.EMPTY, UnknownFields.EMPTY);
    }

    /**
     * A tensor value with a known rank.
     *
     * @param name the value name
     * @param elementType the element type
     * @param shape the dimensions (empty for a scalar)
     * @return the value info
     */
    public static ValueInfo tensor(String name, DataType elementType, List<Dim> shape) {
        return new ValueInfo(name, elementType, shape, "", UnknownFields.EMPTY, UnknownFields.EMPTY);
    }

    /**
     * A tensor value whose rank is not declared.
     *
     * @param name the value name
     * @param elementType the element type
     * @return the value info
     */
    public static ValueInfo unknownShape(String name, DataType elementType) {
        return new ValueInfo(name, elementType, null, "", UnknownFields.EMPTY, UnknownFields.EMPTY);
    }

    /** @return whether the rank is known */
    public boolean hasShape() {
        return shape != null;
    }

    /** @return whether a tensor element type is declared */
    public boolean isTensor() {
        return elementType != DataType.UNDEFINED;
    }

    /** @param newName a name @return a copy with that name */
    public ValueInfo withName(String newName) {
        return new ValueInfo(newName, elementType, shape, docString, typeExtras, unknownFields);
    }

    @Override
    public String toString() {
        return name + ": " + elementType + (shape == null ? "[?]" : shape.toString());
    }
}
