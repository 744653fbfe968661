package io.senseflow.onnx.arch;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.senseflow.onnx.ir.OnnxModel;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Runs a model in ONNX Runtime (one thread, so results do not depend on the machine) with plain arrays. */
final class OrtRunner {
    private OrtRunner() {
    }

    /** A FLOAT ({@code float[]}) or INT64 ({@code long[]}) input with its shape. */
    record In(Object data, long... shape) {
    }

    /** A FLOAT output. */
    record Out(long[] shape, float[] values) {
    }

    static In floats(float[] data, long... shape) {
        return new In(data, shape);
    }

    static In longs(long[] data, long... shape) {
        return new In(data, shape);
    }

    static Map<String, Out> run(OnnxModel model, Map<String, In> inputs) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
            opts.setIntraOpNumThreads(1);
            opts.setInterOpNumThreads(1);
            try (OrtSession session = env.createSession(model.toByteArray(), opts)) {
                return run(env, session, inputs);
            }
        } catch (OrtException e) {
            throw new AssertionError("ONNX Runtime failed: " + e.getMessage(), e);
        }
    }

    private static Map<String, Out> run(OrtEnvironment env, OrtSession session, Map<String, In> inputs)
            throws OrtException {
        List<OnnxTensor> created = new ArrayList<>();
        try {
            Map<String, OnnxTensor> feed = new LinkedHashMap<>();
            for (Map.Entry<String, In> e : inputs.entrySet()) {
                In in = e.getValue();
                OnnxTensor t = in.data() instanceof float[] f
                        ? OnnxTensor.createTensor(env, FloatBuffer.wrap(f), in.shape())
                        : OnnxTensor.createTensor(env, LongBuffer.wrap((long[]) in.data()), in.shape());
                created.add(t);
                feed.put(e.getKey(), t);
            }
            Map<String, Out> outs = new LinkedHashMap<>();
            try (OrtSession.Result result = session.run(feed)) {
                for (Map.Entry<String, OnnxValue> e : result) {
                    OnnxTensor t = (OnnxTensor) e.getValue();
                    FloatBuffer fb = t.getFloatBuffer();
                    float[] values = new float[fb.remaining()];
                    fb.get(values);
                    outs.put(e.getKey(), new Out(t.getInfo().getShape(), values));
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
