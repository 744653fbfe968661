package io.senseflow.onnx.ir;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Runs models in ONNX Runtime for tests: inputs and outputs as plain Java arrays. */
final class Ort {
    private Ort() {
    }

    /** A float or long input with its shape. */
    record In(Object data, long... shape) {
        static In floats(float[] data, long... shape) {
            return new In(data, shape);
        }

        static In longs(long[] data, long... shape) {
            return new In(data, shape);
        }
    }

    /** One output: its shape and its elements (floats, or longs for integer outputs, or 0/1 for BOOL). */
    record Out(long[] shape, float[] floats, long[] longs) {
    }

    static Map<String, Out> run(byte[] model, Map<String, In> inputs) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = options(); OrtSession s = env.createSession(model, opts)) {
            return run(env, s, inputs);
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed: " + e.getMessage(), e);
        }
    }

    static Map<String, Out> run(Path model, Map<String, In> inputs) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = options(); OrtSession s = env.createSession(model.toString(), opts)) {
            return run(env, s, inputs);
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed on " + model + ": " + e.getMessage(), e);
        }
    }

    static Map<String, Out> run(OnnxModel model, Map<String, In> inputs) {
        return run(model.toByteArray(), inputs);
    }

    private static OrtSession.SessionOptions options() throws OrtException {
        OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
        opts.setIntraOpNumThreads(1);
        opts.setInterOpNumThreads(1);
        return opts;
    }

    private static Map<String, Out> run(OrtEnvironment env, OrtSession s, Map<String, In> inputs) throws OrtException {
        List<OnnxTensor> created = new ArrayList<>();
        try {
            Map<String, OnnxTensor> feed = new LinkedHashMap<>();
            for (Map.Entry<String, In> e : inputs.entrySet()) {
                Object d = e.getValue().data();
                OnnxTensor t = d instanceof float[] f
                        ? OnnxTensor.createTensor(env, FloatBuffer.wrap(f), e.getValue().shape())
                        : OnnxTensor.createTensor(env, LongBuffer.wrap((long[]) d), e.getValue().shape());
                created.add(t);
                feed.put(e.getKey(), t);
            }
            Map<String, Out> outs = new LinkedHashMap<>();
            try (OrtSession.Result r = s.run(feed)) {
                for (Map.Entry<String, OnnxValue> e : r) {
                    OnnxTensor t = (OnnxTensor) e.getValue();
                    TensorInfo info = t.getInfo();
                    OnnxJavaType type = info.type;
                    if (type == OnnxJavaType.FLOAT) {
                        FloatBuffer fb = t.getFloatBuffer();
                        float[] f = new float[fb.remaining()];
                        fb.get(f);
                        outs.put(e.getKey(), new Out(info.getShape(), f, null));
                    } else if (type == OnnxJavaType.INT64) {
                        LongBuffer lb = t.getLongBuffer();
                        long[] l = new long[lb.remaining()];
                        lb.get(l);
                        outs.put(e.getKey(), new Out(info.getShape(), null, l));
                    } else if (type == OnnxJavaType.BOOL || type == OnnxJavaType.UINT8 || type == OnnxJavaType.INT8) {
                        ByteBuffer bb = t.getByteBuffer();
                        long[] l = new long[bb.remaining()];
                        for (int i = 0; i < l.length; i++) {
                            l[i] = bb.get(i);
                        }
                        outs.put(e.getKey(), new Out(info.getShape(), null, l));
                    } else {
                        throw new AssertionError("test helper does not read " + type + " outputs");
                    }
                }
            }
            return outs;
        } finally {
            for (OnnxTensor t : created) {
                t.close();
            }
        }
    }
}
