package io.senseflow.onnx.ir;

/**
 * The kinds of node attribute values, with the numbers of {@code AttributeProto.AttributeType}.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum AttributeType {
    /** Not set. */
    UNDEFINED(0),
    /** One float. */
    FLOAT(1),
    /** One 64-bit integer. */
    INT(2),
    /** One byte string (UTF-8 by convention). */
    STRING(3),
    /** One tensor. */
    TENSOR(4),
    /** One graph (a subgraph such as an If branch). */
    GRAPH(5),
    /** A list of floats. */
    FLOATS(6),
    /** A list of 64-bit integers. */
    INTS(7),
    /** A list of byte strings. */
    STRINGS(8),
    /** A list of tensors. */
    TENSORS(9),
    /** A list of graphs. */
    GRAPHS(10),
    /** One sparse tensor (kept as an unknown field, not modelled). */
    SPARSE_TENSOR(11),
    /** A list of sparse tensors (kept as unknown fields, not modelled). */
    SPARSE_TENSORS(12),
    /** One type (kept as an unknown field, not modelled). */
    TYPE_PROTO(13),
    /** A list of types (kept as unknown fields, not modelled). */
    TYPE_PROTOS(14);

    private static final AttributeType[] BY_CODE = values();

    private final int code;

    AttributeType(int code) {
        this.code = code;
    }

    /** @return the number of this type in the ONNX spec */
    public int code() {
        return code;
    }

    /** @param code an {@code AttributeType} number @return the type, or null if unknown */
    public static AttributeType fromCode(long code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[(int) code] : null;
    }
}
