package io.senseflow.onnx.safetensors;

import io.senseflow.onnx.ir.DataType;

/**
 * Element types of the safetensors format, by the names its header uses.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum SafetensorsDtype {
    /** Boolean, one byte. */
    BOOL(1, DataType.BOOL),
    /** Unsigned 8-bit integer. */
    U8(1, DataType.UINT8),
    /** Signed 8-bit integer. */
    I8(1, DataType.INT8),
    /** 8-bit float e5m2 (bytes only). */
    F8_E5M2(1, DataType.FLOAT8E5M2),
    /** 8-bit float e4m3 (bytes only). */
    F8_E4M3(1, DataType.FLOAT8E4M3FN),
    /** Signed 16-bit integer. */
    I16(2, DataType.INT16),
    /** Unsigned 16-bit integer. */
    U16(2, DataType.UINT16),
    /** IEEE half precision. */
    F16(2, DataType.FLOAT16),
    /** bfloat16. */
    BF16(2, DataType.BFLOAT16),
    /** Signed 32-bit integer. */
    I32(4, DataType.INT32),
    /** Unsigned 32-bit integer. */
    U32(4, DataType.UINT32),
    /** IEEE single precision. */
    F32(4, DataType.FLOAT),
    /** IEEE double precision. */
    F64(8, DataType.DOUBLE),
    /** Signed 64-bit integer. */
    I64(8, DataType.INT64),
    /** Unsigned 64-bit integer. */
    U64(8, DataType.UINT64);

    private final int byteSize;
    private final DataType onnxType;

    SafetensorsDtype(int byteSize, DataType onnxType) {
        this.byteSize = byteSize;
        this.onnxType = onnxType;
    }

    /** @return bytes per element */
    public int byteSize() {
        return byteSize;
    }

    /** @return the matching ONNX element type */
    public DataType onnxType() {
        return onnxType;
    }

    /** @return whether {@code floats()} reads this type (F32, F16, BF16, F64) */
    public boolean isFloatingPoint() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    /** @return whether {@code longs()} reads this type (integers and BOOL) */
    public boolean isIntegral() {
        return switch (this) {
            case BOOL, U8, I8, I16, U16, I32, U32, I64, U64 -> true;
            default -> false;
        };
    }

    /** @param name a header dtype such as {@code "F32"} @return the type, or null if unknown */
    public static SafetensorsDtype fromName(String name) {
        for (SafetensorsDtype d : values()) {
            if (d.name().equals(name)) {
                return d;
            }
        }
        return null;
    }

    /** @param type an ONNX element type @return the matching safetensors type, or null if there is none */
    public static SafetensorsDtype fromOnnx(DataType type) {
        for (SafetensorsDtype d : values()) {
            if (d.onnxType == type) {
                return d;
            }
        }
        return null;
    }
}
