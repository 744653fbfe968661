package io.senseflow.bench.jmh;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.senseflow.bench.ModelSpec;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.runtime.OrtInputs;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One transformer evaluation of the Shapes-sized model through the SDK ({@code OrtModel.run}: checks, conversions,
 * output copy) against the same session driven directly: with input tensors made once ({@code rawPrebuilt}, the floor)
 * and made per call from Java arrays ({@code rawFromArrays}, what any caller has to do). Same graph, same options (one
 * intra-op thread), same inputs.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class OrtCallBenchmark {
    @Param({"1", "8"})
    public int batch;

    private OrtRuntime runtime;
    private OrtModel model;
    private OrtEnvironment env;
    private OrtSession session;
    private OrtSession.SessionOptions options;
    private final Map<String, Tensor> inputs = new LinkedHashMap<>();
    private final Map<String, OnnxTensor> prebuilt = new LinkedHashMap<>();

    @Setup(Level.Trial)
    public void setUp() throws OrtException {
        FlowTransformer.Config cfg = ModelSpec.shapesSized().transformer();
        OnnxModel graph = FlowTransformer.build(cfg, 1, Init.RANDOM_ALL);
        SessionConfig config = SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build();
        runtime = OrtRuntime.create(config);
        model = runtime.load(graph, "transformer/model.onnx", config);
        inputs.put(FlowTransformer.HIDDEN_STATES, GaussianNoise.sample(1, 0, 1, batch, cfg.latentChannels(),
                cfg.latentHeight(), cfg.latentWidth()));
        inputs.put(FlowTransformer.ENCODER_HIDDEN_STATES, GaussianNoise.sample(1, 0, 2, batch, cfg.textLength(),
                cfg.textWidth()));
        inputs.put(FlowTransformer.POOLED_PROJECTIONS, GaussianNoise.sample(1, 0, 3, batch, cfg.pooledWidth()));
        inputs.put(FlowTransformer.TIMESTEP, Tensor.full(0.5f, batch));
        env = OrtEnvironment.getEnvironment();
        options = new OrtSession.SessionOptions();
        options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
        options.setIntraOpNumThreads(1);
        options.setInterOpNumThreads(1);
        session = env.createSession(graph.toByteArray(), options);
        for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
            prebuilt.put(e.getKey(), tensor(e.getValue()));
        }
    }

    private OnnxTensor tensor(Tensor t) throws OrtException {
        FloatBuffer b = ByteBuffer.allocateDirect(4 * t.size()).order(ByteOrder.nativeOrder()).asFloatBuffer();
        b.put(t.toArray()).flip();
        long[] shape = new long[t.rank()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = t.dim(i);
        }
        return OnnxTensor.createTensor(env, b, shape);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws OrtException {
        for (OnnxTensor t : prebuilt.values()) {
            t.close();
        }
        session.close();
        options.close();
        runtime.close();
    }

    /** @return the velocity through the SDK */
    @Benchmark
    public Tensor sdk() {
        return model.runSingle(OrtInputs.of(inputs), FlowTransformer.OUT_HIDDEN_STATES);
    }

    /** @return the velocity from the session with tensors made once */
    @Benchmark
    public float[] rawPrebuilt() throws OrtException {
        try (OrtSession.Result r = session.run(prebuilt)) {
            return ((OnnxTensor) r.get(0)).getFloatBuffer().array();
        }
    }

    /** @return the velocity from the session with tensors made per call */
    @Benchmark
    public float[] rawFromArrays() throws OrtException {
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
                feed.put(e.getKey(), tensor(e.getValue()));
            }
            try (OrtSession.Result r = session.run(feed)) {
                return ((OnnxTensor) r.get(0)).getFloatBuffer().array();
            }
        } finally {
            for (OnnxTensor t : feed.values()) {
                t.close();
            }
        }
    }
}
