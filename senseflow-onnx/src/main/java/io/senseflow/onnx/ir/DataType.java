package io.senseflow.onnx.ir;

/**
 * ONNX tensor element types, with the numbers of {@code TensorProto.DataType} in the ONNX IR spec.
 *
 * <p>{@link #bits()} is the storage width of one element in {@code raw_data} (4 and 2 for the packed sub-byte
 * types; 0 for {@link #STRING} and {@link #UNDEFINED}, which have no fixed width).
 *
 * <p>Immutable: safe to share between threads.
 */
public enum DataType {
    /** No type set. */
    UNDEFINED(0, 0),
    /** IEEE 754 single precision. */
    FLOAT(1, 32),
    /** Unsigned 8-bit integer. */
    UINT8(2, 8),
    /** Signed 8-bit integer. */
    INT8(3, 8),
    /** Unsigned 16-bit integer. */
    UINT16(4, 16),
    /** Signed 16-bit integer. */
    INT16(5, 16),
    /** Signed 32-bit integer. */
    INT32(6, 32),
    /** Signed 64-bit integer. */
    INT64(7, 64),
    /** Byte strings (UTF-8 by convention); stored in {@code string_data}, never in raw bytes. */
    STRING(8, 0),
    /** Boolean, one byte per element (0 or 1). */
    BOOL(9, 8),
    /** IEEE 754 half precision. */
    FLOAT16(10, 16),
    /** IEEE 754 double precision. */
    DOUBLE(11, 64),
    /** Unsigned 32-bit integer. */
    UINT32(12, 32),
    /** Unsigned 64-bit integer. */
    UINT64(13, 64),
    /** Complex number of two floats. */
    COMPLEX64(14, 64),
    /** Complex number of two doubles. */
    COMPLEX128(15, 128),
    /** bfloat16: the upper half of a float. */
    BFLOAT16(16, 16),
    /** 8-bit float e4m3, finite only. */
    FLOAT8E4M3FN(17, 8),
    /** 8-bit float e4m3, finite only, no negative zero. */
    FLOAT8E4M3FNUZ(18, 8),
    /** 8-bit float e5m2. */
    FLOAT8E5M2(19, 8),
    /** 8-bit float e5m2, no negative zero. */
    FLOAT8E5M2FNUZ(20, 8),
    /** Unsigned 4-bit integer, two per byte. */
    UINT4(21, 4),
    /** Signed 4-bit integer, two per byte. */
    INT4(22, 4),
    /** 4-bit float e2m1, two per byte. */
    FLOAT4E2M1(23, 4),
    /** 8-bit exponent-only scale type of the microscaling formats. */
    FLOAT8E8M0(24, 8),
    /** Unsigned 2-bit integer, four per byte. */
    UINT2(25, 2),
    /** Signed 2-bit integer, four per byte. */
    INT2(26, 2);

    private static final DataType[] BY_CODE = new DataType[27];

    static {
        for (DataType t : values()) {
            BY_CODE[t.code] = t;
        }
    }

    private final int code;
    private final int bits;

    DataType(int code, int bits) {
        this.code = code;
        this.bits = bits;
    }

    /** @return the number of this type in the ONNX spec */
    public int code() {
        return code;
    }

    /** @return bits per element in raw storage (0 when the width is not fixed) */
    public int bits() {
        return bits;
    }

    /** @return whether this is FLOAT, FLOAT16, BFLOAT16 or DOUBLE, the types {@code toFloats()} reads */
    public boolean isFloatingPoint() {
        return this == FLOAT || this == FLOAT16 || this == BFLOAT16 || this == DOUBLE;
    }

    /** @return whether this is a signed or unsigned integer type of 8 bits or more, or BOOL */
    public boolean isIntegral() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, INT32, INT64, UINT32, UINT64, BOOL -> true;
            default -> false;
        };
    }

    /**
     * Bytes needed to store {@code elements} elements of this type in raw form, rounding packed sub-byte types up
     * to whole bytes.
     *
     * @param elements the element count, non-negative
     * @return the byte count
     * @throws ArithmeticException if it overflows a long
     */
    public long byteSize(long elements) {
        if (bits >= 8) {
            return Math.multiplyExact(elements, (long) (bits / 8));
        }
        if (bits == 0) {
            throw new IllegalStateException(this + " has no fixed element size");
        }
        long totalBits = Math.multiplyExact(elements, (long) bits);
        return totalBits / 8 + (totalBits % 8 == 0 ? 0 : 1);
    }

    /**
     * @param code a {@code TensorProto.DataType} number
     * @return the type, or null if the number is not one this SDK knows
     */
    public static DataType fromCode(long code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[(int) code] : null;
    }
}
