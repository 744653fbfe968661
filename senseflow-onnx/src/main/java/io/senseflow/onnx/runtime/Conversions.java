package io.senseflow.onnx.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import io.senseflow.BackendException;
import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.tensor.HalfPrecision;
import io.senseflow.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;

/** Converts SDK values to ONNX Runtime tensors of a declared element type and back. */
final class Conversions {
    private Conversions() {
    }

    /** @return the ONNX Runtime carrier type for an element type, or null when inputs of that type are not supported */
    static OnnxJavaType javaType(DataType type) {
        return switch (type) {
            case FLOAT -> OnnxJavaType.FLOAT;
            case FLOAT16 -> OnnxJavaType.FLOAT16;
            case BFLOAT16 -> OnnxJavaType.BFLOAT16;
            case DOUBLE -> OnnxJavaType.DOUBLE;
            case INT64 -> OnnxJavaType.INT64;
            case INT32 -> OnnxJavaType.INT32;
            case INT16 -> OnnxJavaType.INT16;
            case INT8 -> OnnxJavaType.INT8;
            case UINT8 -> OnnxJavaType.UINT8;
            case BOOL -> OnnxJavaType.BOOL;
            default -> null;
        };
    }

    /** ONNX Runtime's Java enum numbers its members its own way, so map by member, not by {@code value}. */
    static DataType dataType(TensorInfo.OnnxTensorType t) {
        return switch (t) {
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT -> DataType.FLOAT;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 -> DataType.FLOAT16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16 -> DataType.BFLOAT16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE -> DataType.DOUBLE;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64 -> DataType.INT64;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32 -> DataType.INT32;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16 -> DataType.INT16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8 -> DataType.INT8;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64 -> DataType.UINT64;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32 -> DataType.UINT32;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16 -> DataType.UINT16;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 -> DataType.UINT8;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL -> DataType.BOOL;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING -> DataType.STRING;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX64 -> DataType.COMPLEX64;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_COMPLEX128 -> DataType.COMPLEX128;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FN -> DataType.FLOAT8E4M3FN;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FNUZ -> DataType.FLOAT8E4M3FNUZ;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2 -> DataType.FLOAT8E5M2;
            case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2FNUZ -> DataType.FLOAT8E5M2FNUZ;
            default -> DataType.UNDEFINED;
        };
    }

    /**
     * Float values to a tensor of {@code type}. Integer and BOOL types need whole numbers.
     *
     * @param what the input, for messages
     */
    static OnnxTensor fromFloats(OrtEnvironment env, float[] v, long[] shape, DataType type, String what) throws OrtException {
        switch (type) {
            case FLOAT -> {
                FloatBuffer b = direct(4L * v.length).asFloatBuffer();
                b.put(v).flip();
                return OnnxTensor.createTensor(env, b, shape);
            }
            case FLOAT16, BFLOAT16 -> {
                short[] bits = type == DataType.FLOAT16 ? HalfPrecision.floatToFloat16(v) : HalfPrecision.floatToBfloat16(v);
                ShortBuffer b = direct(2L * v.length).asShortBuffer();
                b.put(bits).flip();
                return OnnxTensor.createTensor(env, b, shape, javaType(type));
            }
            case DOUBLE -> {
                DoubleBuffer b = direct(8L * v.length).asDoubleBuffer();
                for (float f : v) {
                    b.put(f);
                }
                return OnnxTensor.createTensor(env, b.flip(), shape);
            }
            default -> {
                long[] ids = new long[v.length];
                for (int i = 0; i < v.length; i++) {
                    float f = v[i];
                    if (!Float.isFinite(f) || Math.rint(f) != f) {
                        throw new InvalidRequestException(what + " is " + type + ": expected whole numbers, got " + f
                                + " at element " + i);
                    }
                    ids[i] = (long) f;
                }
                return fromLongs(env, ids, shape, type, what);
            }
        }
    }

    /** Integer values to a tensor of {@code type}; floating-point types must represent every value exactly. */
    static OnnxTensor fromLongs(OrtEnvironment env, long[] v, long[] shape, DataType type, String what) throws OrtException {
        switch (type) {
            case INT64 -> {
                LongBuffer b = direct(8L * v.length).asLongBuffer();
                b.put(v).flip();
                return OnnxTensor.createTensor(env, b, shape);
            }
            case INT32 -> {
                IntBuffer b = direct(4L * v.length).asIntBuffer();
                for (int i = 0; i < v.length; i++) {
                    b.put((int) inRange(v, i, Integer.MIN_VALUE, Integer.MAX_VALUE, type, what));
                }
                return OnnxTensor.createTensor(env, b.flip(), shape);
            }
            case INT16 -> {
                ShortBuffer b = direct(2L * v.length).asShortBuffer();
                for (int i = 0; i < v.length; i++) {
                    b.put((short) inRange(v, i, Short.MIN_VALUE, Short.MAX_VALUE, type, what));
                }
                return OnnxTensor.createTensor(env, b.flip(), shape, OnnxJavaType.INT16);
            }
            case INT8, UINT8, BOOL -> {
                long lo = type == DataType.INT8 ? Byte.MIN_VALUE : type == DataType.UINT8 ? 0 : Long.MIN_VALUE;
                long hi = type == DataType.INT8 ? Byte.MAX_VALUE : type == DataType.UINT8 ? 255 : Long.MAX_VALUE;
                ByteBuffer b = direct(v.length);
                for (int i = 0; i < v.length; i++) {
                    long x = inRange(v, i, lo, hi, type, what);
                    b.put((byte) (type == DataType.BOOL ? (x != 0 ? 1 : 0) : x));
                }
                return OnnxTensor.createTensor(env, b.flip(), shape, javaType(type));
            }
            case FLOAT, FLOAT16, BFLOAT16, DOUBLE -> {
                float[] f = new float[v.length];
                for (int i = 0; i < v.length; i++) {
                    f[i] = v[i];
                    boolean exact = switch (type) {
                        case FLOAT16 -> HalfPrecision.float16ToFloat(HalfPrecision.floatToFloat16(f[i])) == v[i];
                        case BFLOAT16 -> HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBfloat16(f[i])) == v[i];
                        default -> (long) f[i] == v[i];
                    };
                    if (!exact) {
                        throw new InvalidRequestException(what + " is " + type + ", which cannot hold the id " + v[i]
                                + " (element " + i + ") exactly");
                    }
                }
                return fromFloats(env, f, shape, type, what);
            }
            default -> throw new InvalidRequestException(what + " has element type " + type
                    + "; the SDK feeds FLOAT, FLOAT16, BFLOAT16, DOUBLE, INT64, INT32, INT16, INT8, UINT8 and BOOL inputs");
        }
    }

    /** Any numeric output as a float tensor (integers convert exactly up to 2^24). */
    static Tensor toTensor(OnnxTensor t, String what) {
        TensorInfo info = t.getInfo();
        long[] s = info.getShape();
        int[] shape = new int[s.length];
        for (int i = 0; i < s.length; i++) {
            shape[i] = Math.toIntExact(s[i]);
        }
        DataType type = dataType(info.onnxType);
        float[] out;
        switch (type) {
            case FLOAT -> out = floats(t.getFloatBuffer());
            case FLOAT16, BFLOAT16 -> {
                ShortBuffer b = t.getShortBuffer();
                short[] bits = new short[b.remaining()];
                b.get(bits);
                out = type == DataType.FLOAT16 ? HalfPrecision.float16ToFloat(bits) : HalfPrecision.bfloat16ToFloat(bits);
            }
            case DOUBLE -> {
                DoubleBuffer b = t.getDoubleBuffer();
                out = new float[b.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) b.get(i);
                }
            }
            case INT64 -> {
                LongBuffer b = t.getLongBuffer();
                out = new float[b.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.get(i);
                }
            }
            case INT32 -> {
                IntBuffer b = t.getIntBuffer();
                out = new float[b.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.get(i);
                }
            }
            case INT16 -> {
                ShortBuffer b = t.getShortBuffer();
                out = new float[b.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = b.get(i);
                }
            }
            case INT8, UINT8, BOOL -> {
                ByteBuffer b = t.getByteBuffer();
                out = new float[b.remaining()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = type == DataType.INT8 ? b.get(i) : b.get(i) & 0xff;
                }
            }
            default -> throw new BackendException(what + " has element type " + type + ", which the SDK does not read");
        }
        return Tensor.wrap(out, shape);
    }

    private static float[] floats(FloatBuffer b) {
        if (b.hasArray() && b.arrayOffset() == 0 && b.position() == 0 && b.array().length == b.remaining()) {
            return b.array();
        }
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }

    private static long inRange(long[] v, int i, long lo, long hi, DataType type, String what) {
        if (v[i] < lo || v[i] > hi) {
            throw new InvalidRequestException(what + " is " + type + ": value " + v[i] + " at element " + i
                    + " is outside [" + lo + ", " + hi + "]");
        }
        return v[i];
    }

    static ByteBuffer direct(long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw InvalidRequestException.of("tensor size", "under 2 GiB per input", bytes + " bytes");
        }
        return ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder());
    }
}
