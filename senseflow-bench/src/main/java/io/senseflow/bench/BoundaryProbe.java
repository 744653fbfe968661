package io.senseflow.bench;

import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.runtime.OrtInputs;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.IntFunction;

/**
 * One side of a {@link BuildAb} comparison: {@code OrtModel.run} on a graph with a transformer's inputs and output that
 * only sums them (the SDK's call boundary alone), in the build of the SDK its class loader sees. Uses only API that
 * every build compared has.
 */
public final class BoundaryProbe implements IntFunction<long[]>, AutoCloseable {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final OrtRuntime ort;
    private final OrtModel model;
    private final Map<String, Tensor> inputs = new LinkedHashMap<>();

    /** @param spec {@code latentSide,textLength,textWidth,batch}, e.g. {@code 64,32,256,1} */
    public BoundaryProbe(String spec) {
        String[] p = spec.split(",");
        int side = Integer.parseInt(p[0]);
        int textLength = Integer.parseInt(p[1]);
        int textWidth = Integer.parseInt(p[2]);
        int b = Integer.parseInt(p[3]);
        FlowTransformer.Config t = FlowTransformer.Config.builder().latentChannels(4).latentSize(side, side).patchSize(2)
                .width(32).depth(1).heads(2).textWidth(textWidth).textLength(textLength).pooledWidth(textWidth).build();
        inputs.put(FlowTransformer.HIDDEN_STATES, GaussianNoise.sample(1, 0, 1, b, 4, side, side));
        inputs.put(FlowTransformer.ENCODER_HIDDEN_STATES, GaussianNoise.sample(1, 0, 2, b, textLength, textWidth));
        inputs.put(FlowTransformer.POOLED_PROJECTIONS, GaussianNoise.sample(1, 0, 3, b, textWidth));
        inputs.put(FlowTransformer.TIMESTEP, Tensor.full(0.5f, b));
        SessionConfig config = SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build();
        ort = OrtRuntime.create(config);
        model = ort.load(StepCostBench.trivialDenoiser(t), "boundary/model.onnx", config);
    }

    /**
     * @param calls how many calls
     * @return the calling thread's CPU nanoseconds of each call
     */
    @Override
    public long[] apply(int calls) {
        long[] cpu = new long[calls];
        for (int i = 0; i < calls; i++) {
            long c0 = THREADS.getCurrentThreadCpuTime();
            model.runSingle(OrtInputs.of(inputs), FlowTransformer.OUT_HIDDEN_STATES);
            cpu[i] = THREADS.getCurrentThreadCpuTime() - c0;
        }
        return cpu;
    }

    @Override
    public void close() {
        model.close();
        ort.close();
    }
}
