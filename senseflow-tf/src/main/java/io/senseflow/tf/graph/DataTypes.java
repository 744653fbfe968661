package io.senseflow.tf.graph;

import io.senseflow.InvalidRequestException;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TUint16;
import org.tensorflow.types.TUint8;
import org.tensorflow.types.family.TType;

/**
 * The element types the TensorFlow backend handles, and their ONNX counterparts. TensorFlow Java 1.1.0 has tensor
 * classes for FLOAT, DOUBLE, HALF, BFLOAT16, INT32, INT64, BOOL, UINT8 and UINT16 only, so ONNX INT8, INT16,
 * UINT32, UINT64, STRING and the 8/4-bit float types are refused with a message naming the value.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class DataTypes {
    private DataTypes() {
    }

    /**
     * @param onnx an ONNX element type
     * @param what the value it belongs to, for the message
     * @return the TensorFlow type
     * @throws InvalidRequestException if the type is not handled
     */
    public static DataType toTf(io.senseflow.onnx.ir.DataType onnx, String what) {
        return switch (onnx) {
            case FLOAT -> DataType.DT_FLOAT;
            case DOUBLE -> DataType.DT_DOUBLE;
            case FLOAT16 -> DataType.DT_HALF;
            case BFLOAT16 -> DataType.DT_BFLOAT16;
            case INT32 -> DataType.DT_INT32;
            case INT64 -> DataType.DT_INT64;
            case BOOL -> DataType.DT_BOOL;
            case UINT8 -> DataType.DT_UINT8;
            case UINT16 -> DataType.DT_UINT16;
            default -> throw InvalidRequestException.of(what + " element type",
                    "one of FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT32, INT64, BOOL, UINT8, UINT16 (what TensorFlow Java"
                            + " 1.1.0 can hold)", onnx);
        };
    }

    /**
     * @param code an ONNX element type code (as in {@code Cast.to})
     * @param what the value it belongs to
     * @return the TensorFlow type
     */
    public static DataType toTf(long code, String what) {
        return toTf(io.senseflow.onnx.ir.DataType.fromCode(code), what);
    }

    /**
     * @param tf a TensorFlow type
     * @return the ONNX type
     * @throws InvalidRequestException if it has no counterpart here
     */
    public static io.senseflow.onnx.ir.DataType toOnnx(DataType tf) {
        return switch (tf) {
            case DT_FLOAT -> io.senseflow.onnx.ir.DataType.FLOAT;
            case DT_DOUBLE -> io.senseflow.onnx.ir.DataType.DOUBLE;
            case DT_HALF -> io.senseflow.onnx.ir.DataType.FLOAT16;
            case DT_BFLOAT16 -> io.senseflow.onnx.ir.DataType.BFLOAT16;
            case DT_INT32 -> io.senseflow.onnx.ir.DataType.INT32;
            case DT_INT64 -> io.senseflow.onnx.ir.DataType.INT64;
            case DT_BOOL -> io.senseflow.onnx.ir.DataType.BOOL;
            case DT_UINT8 -> io.senseflow.onnx.ir.DataType.UINT8;
            case DT_UINT16 -> io.senseflow.onnx.ir.DataType.UINT16;
            default -> throw InvalidRequestException.of("TensorFlow element type", "one with an ONNX counterpart", tf);
        };
    }

    /** @param tf a TensorFlow type @return the tensor class of TensorFlow Java */
    public static Class<? extends TType> tensorClass(DataType tf) {
        return switch (tf) {
            case DT_FLOAT -> TFloat32.class;
            case DT_DOUBLE -> TFloat64.class;
            case DT_HALF -> TFloat16.class;
            case DT_BFLOAT16 -> TBfloat16.class;
            case DT_INT32 -> TInt32.class;
            case DT_INT64 -> TInt64.class;
            case DT_BOOL -> TBool.class;
            case DT_UINT8 -> TUint8.class;
            case DT_UINT16 -> TUint16.class;
            default -> throw InvalidRequestException.of("TensorFlow element type", "one TensorFlow Java can hold", tf);
        };
    }

    /** @param tf a type @return bytes per element */
    public static int byteSize(DataType tf) {
        return switch (tf) {
            case DT_DOUBLE, DT_INT64 -> 8;
            case DT_FLOAT, DT_INT32 -> 4;
            case DT_HALF, DT_BFLOAT16, DT_UINT16 -> 2;
            case DT_BOOL, DT_UINT8 -> 1;
            default -> throw InvalidRequestException.of("TensorFlow element type", "a fixed-width type", tf);
        };
    }

    /** @param tf a type @return whether it is a floating-point type (differentiable) */
    public static boolean isFloating(DataType tf) {
        return tf == DataType.DT_FLOAT || tf == DataType.DT_DOUBLE || tf == DataType.DT_HALF
                || tf == DataType.DT_BFLOAT16;
    }

    /** @param tf a type @return whether it is an integer type */
    public static boolean isInteger(DataType tf) {
        return tf == DataType.DT_INT32 || tf == DataType.DT_INT64 || tf == DataType.DT_UINT8
                || tf == DataType.DT_UINT16;
    }

    /** @param tf a type @return a short name for messages, e.g. {@code float32} */
    public static String name(DataType tf) {
        return switch (tf) {
            case DT_FLOAT -> "float32";
            case DT_DOUBLE -> "float64";
            case DT_HALF -> "float16";
            case DT_BFLOAT16 -> "bfloat16";
            case DT_INT32 -> "int32";
            case DT_INT64 -> "int64";
            case DT_BOOL -> "bool";
            case DT_UINT8 -> "uint8";
            case DT_UINT16 -> "uint16";
            default -> tf.name();
        };
    }
}
