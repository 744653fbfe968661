package io.senseflow.tf.graph;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.tensorflow.RawTensor;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.ByteDataBuffer;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt64;

/**
 * Conversions between the SDK's value types ({@link Tensor}, ONNX {@link TensorValue}) and TensorFlow tensors. Every
 * method that returns a TensorFlow tensor hands over a native resource: the caller closes it.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class TfTensors {
    private TfTensors() {
    }

    /** @param dims int dimensions @return the TensorFlow shape */
    public static Shape shape(int[] dims) {
        long[] l = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            l[i] = dims[i];
        }
        return Shape.of(l);
    }

    /** @param t a float tensor @return a new TensorFlow float32 tensor with a copy of its values */
    public static TFloat32 of(Tensor t) {
        return TFloat32.tensorOf(shape(t.shape()), DataBuffers.of(t.toArray(), true, false));
    }

    /**
     * @param values values in row-major order
     * @param dims the shape
     * @return a new float32 tensor
     */
    public static TFloat32 floats(float[] values, long... dims) {
        return TFloat32.tensorOf(Shape.of(dims), DataBuffers.of(values, true, false));
    }

    /** @param value a value @return a new float32 scalar */
    public static TFloat32 scalar(float value) {
        return TFloat32.scalarOf(value);
    }

    /** @param value a value @return a new float64 scalar */
    public static TFloat64 scalar(double value) {
        return TFloat64.scalarOf(value);
    }

    /** @param value a value @return a new int64 scalar */
    public static TInt64 scalar(long value) {
        return TInt64.scalarOf(value);
    }

    /**
     * Any fixed-width ONNX tensor as a TensorFlow tensor (the bytes are copied in their little-endian raw layout,
     * which is TensorFlow's on x86-64).
     *
     * @param value the ONNX tensor
     * @return a new TensorFlow tensor
     */
    public static org.tensorflow.Tensor of(TensorValue value) {
        DataType tf = DataTypes.toTf(value.dataType(), "tensor '" + value.name() + "'");
        ByteBuffer bytes = value.bytes().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        long n = value.elementCount();
        if (bytes.remaining() != n * DataTypes.byteSize(tf)) {
            throw new InvalidRequestException("tensor '" + value.name() + "': expected " + n * DataTypes.byteSize(tf)
                    + " bytes for " + n + " " + DataTypes.name(tf) + " values, found " + bytes.remaining());
        }
        byte[] copy = new byte[bytes.remaining()];
        bytes.get(copy);
        return org.tensorflow.Tensor.of(DataTypes.tensorClass(tf), Shape.of(value.dims()), DataBuffers.of(copy, true, false));
    }

    /**
     * @param name the name to give the ONNX tensor
     * @param t a TensorFlow tensor of a fixed-width type
     * @return an ONNX tensor with a copy of its values
     */
    public static TensorValue toTensorValue(String name, org.tensorflow.Tensor t) {
        RawTensor raw = t.asRawTensor();
        ByteDataBuffer data = raw.data();
        long size = data.size();
        if (size > Integer.MAX_VALUE - 8) {
            throw new InvalidRequestException("tensor '" + name + "': " + size + " bytes do not fit one Java array");
        }
        byte[] b = new byte[(int) size];
        data.read(b);
        return TensorValue.ofRaw(name, DataTypes.toOnnx(t.dataType()), ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN),
                t.shape().asArray());
    }

    /**
     * @param t a float32 tensor
     * @return its values as an SDK tensor
     * @throws InvalidRequestException for other types
     */
    public static Tensor toTensor(org.tensorflow.Tensor t) {
        if (t.dataType() != DataType.DT_FLOAT) {
            throw InvalidRequestException.of("TensorFlow result", "a float32 tensor", DataTypes.name(t.dataType()) + " "
                    + t.shape());
        }
        long[] dims = t.shape().asArray();
        int[] shape = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            shape[i] = Math.toIntExact(dims[i]);
        }
        return Tensor.wrap(floats(t), shape);
    }

    /** @param t a float32 tensor @return a copy of its values */
    public static float[] floats(org.tensorflow.Tensor t) {
        if (t.dataType() != DataType.DT_FLOAT) {
            throw InvalidRequestException.of("TensorFlow result", "a float32 tensor", DataTypes.name(t.dataType()));
        }
        long n = t.shape().size();
        float[] out = new float[Math.toIntExact(n)];
        t.asRawTensor().data().asFloats().read(out);
        return out;
    }

    /** @param t a float32 or float64 scalar (or one-element tensor) @return its value */
    public static double scalarValue(org.tensorflow.Tensor t) {
        if (t.shape().size() != 1) {
            throw InvalidRequestException.of("TensorFlow result", "one value", t.shape());
        }
        return switch (t.dataType()) {
            case DT_FLOAT -> t.asRawTensor().data().asFloats().getFloat(0);
            case DT_DOUBLE -> t.asRawTensor().data().asDoubles().getDouble(0);
            case DT_INT64 -> t.asRawTensor().data().asLongs().getLong(0);
            case DT_INT32 -> t.asRawTensor().data().asInts().getInt(0);
            default -> throw InvalidRequestException.of("TensorFlow result", "a numeric scalar", DataTypes.name(t.dataType()));
        };
    }
}
