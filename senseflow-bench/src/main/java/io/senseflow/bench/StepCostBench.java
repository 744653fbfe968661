package io.senseflow.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.NoiseKey;
import io.senseflow.noise.Streams;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.runtime.OrtInputs;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.FlowMatchEulerScheduler;
import io.senseflow.schedule.SigmaSchedule;
import io.senseflow.tensor.Tensor;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The SDK's own per-step costs, in CPU time of the calling thread, which a busy machine inflates far less than wall
 * time: the ONNX Runtime call boundary ({@code OrtModel.run} on a graph that does almost nothing, against the same
 * session driven directly with tensors made from Java arrays), and the Java work of a sampling step (Euler update,
 * few-step re-noising with fresh noise, noise alone, guidance batching, the finite check).
 */
public final class StepCostBench {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    private final BenchSettings settings;

    /** @param settings progress */
    public StepCostBench(BenchSettings settings) {
        this.settings = settings;
    }

    /** A latent geometry and text size of one of the models, at a batch. */
    record Shape(String model, FlowTransformer.Config t, int batch) {
    }

    /**
     * @param specs models whose input sizes to use
     * @param batches batch sizes
     * @param calls measured calls per operation (fewer for large latents, 100 at least), after half as many unmeasured
     * @return one row per model, batch and operation: median CPU microseconds per call
     */
    public Table run(List<ModelSpec> specs, int[] batches, int calls) {
        Table table = Table.of("inputs", "operation", "CPU per call (µs, median)", "p10–p90 (µs)");
        for (ModelSpec spec : specs) {
            for (int b : batches) {
                Shape s = new Shape(spec.name(), spec.transformer(), b);
                String label = String.format(Locale.ROOT, "%s, batch %d (latents %d x %d x %d x %d, text %d x %d)", s.model(),
                        b, b, s.t().latentChannels(), s.t().latentHeight(), s.t().latentWidth(), s.t().textLength(),
                        s.t().textWidth());
                // fewer calls for big latents: the noise alone costs milliseconds there
                long elements = (long) b * s.t().latentChannels() * s.t().latentHeight() * s.t().latentWidth();
                int n = (int) Math.max(100, Math.min(calls, 50_000_000L / elements));
                boundary(s, n).forEach((op, samples) -> table.row(label, op, us(samples.median()),
                        us(samples.quantile(0.1)) + "–" + us(samples.quantile(0.9))));
                javaStep(s, n).forEach((op, samples) -> table.row(label, op, us(samples.median()),
                        us(samples.quantile(0.1)) + "–" + us(samples.quantile(0.9))));
                settings.log("step costs: %s done", label);
            }
        }
        return table;
    }

    static String us(double nanos) {
        return String.format(Locale.ROOT, nanos >= 100_000 ? "%.0f" : "%.1f", nanos / 1e3);
    }

    /** The transformer's inputs and output, with a body that only sums them: the call boundary alone. */
    static OnnxModel trivialDenoiser(FlowTransformer.Config t) {
        GraphBuilder g = GraphBuilder.create("boundary");
        Dim b = Dim.symbolic("batch");
        String h = g.input(FlowTransformer.HIDDEN_STATES, DataType.FLOAT, b, Dim.of(t.latentChannels()),
                Dim.of(t.latentHeight()), Dim.of(t.latentWidth()));
        String e = g.input(FlowTransformer.ENCODER_HIDDEN_STATES, DataType.FLOAT, b, Dim.of(t.textLength()),
                Dim.of(t.textWidth()));
        String p = g.input(FlowTransformer.POOLED_PROJECTIONS, DataType.FLOAT, b, Dim.of(t.pooledWidth()));
        String ts = g.input(FlowTransformer.TIMESTEP, DataType.FLOAT, b);
        String perSample = g.add(g.add(g.reduceSum(e, false, 1, 2), g.reduceSum(p, false, 1)), ts);
        String shaped = g.op("Reshape").input(perSample, g.constant(TensorValue.ofLongs("shape", new long[] {-1, 1, 1, 1}, 4)))
                .output();
        g.output(g.add(h, shaped), FlowTransformer.OUT_HIDDEN_STATES, DataType.FLOAT, b, Dim.of(t.latentChannels()),
                Dim.of(t.latentHeight()), Dim.of(t.latentWidth()));
        return g.build();
    }

    private Map<String, Samples> boundary(Shape s, int calls) {
        FlowTransformer.Config t = s.t();
        int b = s.batch();
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        inputs.put(FlowTransformer.HIDDEN_STATES, GaussianNoise.sample(1, 0, 1, b, t.latentChannels(), t.latentHeight(),
                t.latentWidth()));
        inputs.put(FlowTransformer.ENCODER_HIDDEN_STATES, GaussianNoise.sample(1, 0, 2, b, t.textLength(), t.textWidth()));
        inputs.put(FlowTransformer.POOLED_PROJECTIONS, GaussianNoise.sample(1, 0, 3, b, t.pooledWidth()));
        inputs.put(FlowTransformer.TIMESTEP, Tensor.full(0.5f, b));
        OnnxModel graph = trivialDenoiser(t);
        SessionConfig config = SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build();
        long[][] cpu = new long[2][calls];
        try (OrtRuntime ort = OrtRuntime.create(config);
             OrtModel model = ort.load(graph, "boundary/model.onnx", config);
             OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            options.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            try (OrtSession raw = env.createSession(graph.toByteArray(), options)) {
                for (int i = -calls / 2; i < calls; i++) {
                    long c0 = THREADS.getCurrentThreadCpuTime();
                    model.runSingle(OrtInputs.of(inputs), FlowTransformer.OUT_HIDDEN_STATES);
                    long c1 = THREADS.getCurrentThreadCpuTime();
                    rawRun(env, raw, inputs);
                    long c2 = THREADS.getCurrentThreadCpuTime();
                    if (i >= 0) {
                        cpu[0][i] = c1 - c0;
                        cpu[1][i] = c2 - c1;
                    }
                }
            }
        } catch (OrtException e) {
            throw new IllegalStateException("the raw ONNX Runtime session failed: " + e.getMessage(), e);
        }
        Map<String, Samples> out = new LinkedHashMap<>();
        out.put("ORT call through the SDK (OrtModel.run, trivial graph)", Samples.of(cpu[0]));
        out.put("same session driven directly, tensors from Java arrays", Samples.of(cpu[1]));
        return out;
    }

    private static void rawRun(OrtEnvironment env, OrtSession session, Map<String, Tensor> inputs) throws OrtException {
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
                Tensor t = e.getValue();
                FloatBuffer b = ByteBuffer.allocateDirect(4 * t.size()).order(ByteOrder.nativeOrder()).asFloatBuffer();
                b.put(t.toArray()).flip();
                long[] shape = new long[t.rank()];
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = t.dim(i);
                }
                feed.put(e.getKey(), OnnxTensor.createTensor(env, b, shape));
            }
            try (OrtSession.Result r = session.run(feed)) {
                ((OnnxTensor) r.get(0)).getFloatBuffer();
            }
        } finally {
            for (OnnxTensor t : feed.values()) {
                t.close();
            }
        }
    }

    private static Map<String, Samples> javaStep(Shape s, int calls) {
        FlowTransformer.Config t = s.t();
        int n = s.batch();
        int[] shape = {n, t.latentChannels(), t.latentHeight(), t.latentWidth()};
        NoiseKey[] keys = new NoiseKey[n];
        for (int b = 0; b < n; b++) {
            keys[b] = new NoiseKey(42, b);
        }
        Tensor x = GaussianNoise.sample(keys, Streams.INITIAL_NOISE, shape);
        Tensor v = GaussianNoise.sample(keys, Streams.stepNoise(0), shape);
        FlowMatchEulerScheduler euler = FlowMatchEulerScheduler.sd3(3.0);
        SigmaSchedule eulerSchedule = euler.timesteps(50, t.imageTokens());
        FewStepScheduler fewStep = FewStepScheduler.of(ModelFolders.ANCHORS);
        SigmaSchedule fewSchedule = fewStep.timesteps(4, t.imageTokens());
        Map<String, Runnable> ops = new LinkedHashMap<>();
        ops.put("(nothing: the CPU clock's own cost)", () -> { });
        ops.put("Euler step (teacher sampler)", () -> euler.step(x, v, eulerSchedule, 10, () -> null));
        ops.put("few-step re-noising step, fresh noise included (student sampler)",
                () -> fewStep.step(x, v, fewSchedule, 1, () -> GaussianNoise.sample(keys, Streams.stepNoise(1), shape)));
        ops.put("counter-based noise for one step", () -> GaussianNoise.sample(keys, Streams.stepNoise(1), shape));
        ops.put("guidance: batch [x; x], split, combine", () -> {
            Tensor both = Tensor.concatBatch(x, x);
            Tensor.combine(-3.5f, both.sliceBatch(0, n), 4.5f, both.sliceBatch(n, 2 * n));
        });
        ops.put("finite check of the output", v::isFinite);
        Map<String, Samples> out = new LinkedHashMap<>();
        for (Map.Entry<String, Runnable> op : ops.entrySet()) {
            long[] cpu = new long[calls];
            for (int i = -calls / 2; i < calls; i++) {
                long c0 = THREADS.getCurrentThreadCpuTime();
                op.getValue().run();
                if (i >= 0) {
                    cpu[i] = THREADS.getCurrentThreadCpuTime() - c0;
                }
            }
            out.put(op.getKey(), Samples.of(cpu));
        }
        return out;
    }
}
