package io.senseflow.tf.testing;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Runs a model in ONNX Runtime (the oracle of the importer tests): inputs and outputs as ONNX tensors. */
public final class OrtOracle {
    private OrtOracle() {
    }

    /**
     * @param model the model
     * @param inputs values by input name
     * @return every graph output by name
     */
    public static Map<String, TensorValue> run(OnnxModel model, Map<String, TensorValue> inputs) {
        return run(model, inputs, true);
    }

    /**
     * @param model the model
     * @param inputs values by input name
     * @param optimise whether ONNX Runtime may rewrite the graph (off: every node runs as written, so two graphs
     *     that differ only by an exact no-op give the same bits)
     * @return every graph output by name
     */
    public static Map<String, TensorValue> run(OnnxModel model, Map<String, TensorValue> inputs, boolean optimise) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        List<OnnxTensor> created = new ArrayList<>();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            if (!optimise) {
                opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.NO_OPT);
            }
            opts.setIntraOpNumThreads(1);
            opts.setInterOpNumThreads(1);
            try (OrtSession s = env.createSession(model.toByteArray(), opts)) {
                Map<String, OnnxTensor> feed = new LinkedHashMap<>();
                for (Map.Entry<String, TensorValue> e : inputs.entrySet()) {
                    TensorValue v = e.getValue();
                    ByteBuffer b = ByteBuffer.allocateDirect((int) v.byteSize()).order(ByteOrder.nativeOrder());
                    b.put(v.bytes().duplicate()).flip();
                    OnnxTensor t = OnnxTensor.createTensor(env, b, v.dims(), javaType(v.dataType()));
                    created.add(t);
                    feed.put(e.getKey(), t);
                }
                Map<String, TensorValue> out = new LinkedHashMap<>();
                try (OrtSession.Result r = s.run(feed)) {
                    for (Map.Entry<String, OnnxValue> e : r) {
                        OnnxTensor t = (OnnxTensor) e.getValue();
                        TensorInfo info = t.getInfo();
                        ByteBuffer data = t.getByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                        out.put(e.getKey(), TensorValue.ofRaw(e.getKey(), onnxType(info.type), data, info.getShape()));
                    }
                }
                return out;
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed: " + e.getMessage(), e);
        } finally {
            created.forEach(OnnxTensor::close);
        }
    }

    private static OnnxJavaType javaType(DataType t) {
        return switch (t) {
            case FLOAT -> OnnxJavaType.FLOAT;
            case DOUBLE -> OnnxJavaType.DOUBLE;
            case INT64 -> OnnxJavaType.INT64;
            case INT32 -> OnnxJavaType.INT32;
            case BOOL -> OnnxJavaType.BOOL;
            case UINT8 -> OnnxJavaType.UINT8;
            case FLOAT16 -> OnnxJavaType.FLOAT16;
            default -> throw new IllegalArgumentException("no ORT type for " + t);
        };
    }

    private static DataType onnxType(OnnxJavaType t) {
        return switch (t) {
            case FLOAT -> DataType.FLOAT;
            case DOUBLE -> DataType.DOUBLE;
            case INT64 -> DataType.INT64;
            case INT32 -> DataType.INT32;
            case BOOL -> DataType.BOOL;
            case UINT8 -> DataType.UINT8;
            case FLOAT16 -> DataType.FLOAT16;
            default -> throw new IllegalArgumentException("no ONNX type for " + t);
        };
    }
}
