package io.senseflow.bench;

import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.runtime.OrtInputs;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.train.DenoiserSpec;
import io.senseflow.tf.train.GraphActivations;
import io.senseflow.tf.train.MemoryBudget;
import io.senseflow.tf.train.MemoryEstimate;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.FlowMatchingConfig;
import io.senseflow.train.FlowMatchingTrainer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The transformer alone in each engine: one ONNX Runtime forward (a sampling step without guidance) and one
 * TensorFlow flow-matching training step (forward, backward, clip, AdamW), at several image-token counts, batch sizes
 * and intra-op thread counts, with the FLOP count of each and the rate achieved. Comparisons between settings are
 * measured alternately, call by call, so that a change in the machine's load touches both sides alike.
 */
public final class EngineBench {
    /** Calls longer than this get fewer warm-up calls and at most {@link #LONG_REPS} measured ones. */
    static final long LONG_CALL_NANOS = 5_000_000_000L;
    /** Measured calls per setting when a call is long. */
    static final int LONG_REPS = 2;

    private final BenchSettings settings;

    /** @param settings threads (the default side of comparisons), repetitions, progress */
    public EngineBench(BenchSettings settings) {
        this.settings = settings;
    }

    /**
     * One measured setting.
     *
     * @param spec the model
     * @param batch the batch
     * @param threads intra-op threads
     * @param time per call
     * @param gflop floating-point work per call (training: 3x the forward's)
     * @param peakRss peak resident memory while measuring (bytes)
     * @param skipped why it was not measured, or null
     * @param spinning whether ONNX Runtime's idle intra-op threads spun (TensorFlow: always true)
     */
    public record Point(ModelSpec spec, int batch, int threads, Samples time, double gflop, long peakRss, String skipped,
                        boolean spinning) {
        /** @return the thread count, with "no spinning" where spinning was off */
        String threadsLabel() {
            return spinning ? Integer.toString(threads) : threads + ", no spinning";
        }

        /** @return GFLOP/s at the median */
        public double rate() {
            return gflop / (time.median() / 1e9);
        }
    }

    static OrtInputs inputs(FlowTransformer.Config t, int batch) {
        return OrtInputs.create()
                .put(FlowTransformer.HIDDEN_STATES, GaussianNoise.sample(3, 0, 1, batch, t.latentChannels(), t.latentHeight(),
                        t.latentWidth()))
                .put(FlowTransformer.ENCODER_HIDDEN_STATES, GaussianNoise.sample(3, 0, 2, batch, t.textLength(), t.textWidth()))
                .put(FlowTransformer.POOLED_PROJECTIONS, GaussianNoise.sample(3, 0, 3, batch, t.pooledWidth()))
                .put(FlowTransformer.TIMESTEP, Tensor.full(0.6f, batch));
    }

    static double forwardGflop(OnnxModel graph, int batch) {
        return GraphFlops.of(graph, DenoiserSpec.batchShapes(graph, batch, ImportOptions.builder().frozen().build())).gflop();
    }

    /**
     * ONNX Runtime forwards at each thread count, alternating between the sessions call by call.
     *
     * @param spec the model
     * @param batch the batch
     * @param threads the thread counts to compare
     * @param reps measured calls per thread count
     * @return one point per thread count
     */
    public List<Point> ortForward(ModelSpec spec, int batch, int[] threads, int reps) {
        boolean[] spinning = new boolean[threads.length];
        java.util.Arrays.fill(spinning, true);
        return ortForward(spec, batch, threads, spinning, reps);
    }

    /**
     * ONNX Runtime forwards at each thread count and spinning setting, alternating call by call.
     *
     * @param spec the model
     * @param batch the batch
     * @param threads the thread counts
     * @param spinning per thread count, whether idle intra-op threads spin
     * @param reps measured calls per setting
     * @return one point per setting
     */
    public List<Point> ortForward(ModelSpec spec, int batch, int[] threads, boolean[] spinning, int reps) {
        OnnxModel graph = FlowTransformer.build(spec.transformer(), 11, Init.RANDOM_ALL);
        double gflop = forwardGflop(graph, batch);
        OrtInputs in = inputs(spec.transformer(), batch);
        long[][] nanos;
        PeakRss.reset();
        try (OrtRuntime ort = OrtRuntime.create()) {
            List<OrtModel> models = new ArrayList<>();
            for (int i = 0; i < threads.length; i++) {
                models.add(ort.load(graph, "transformer/model.onnx",
                        settings.sessionConfig(threads[i]).toBuilder().allowSpinning(spinning[i]).build()));
            }
            long longest = 0;
            for (OrtModel m : models) {
                for (int i = 0; i < 2; i++) {
                    long t0 = System.nanoTime();
                    m.runSingle(in, FlowTransformer.OUT_HIDDEN_STATES);
                    long took = System.nanoTime() - t0;
                    longest = Math.max(longest, took);
                    if (took > LONG_CALL_NANOS) {
                        break; // warm enough: the fixed costs of a first call are small next to seconds of work
                    }
                }
            }
            nanos = new long[threads.length][longest > LONG_CALL_NANOS ? Math.min(reps, LONG_REPS) : reps];
            for (int r = 0; r < nanos[0].length; r++) {
                for (int i = 0; i < models.size(); i++) {
                    long t0 = System.nanoTime();
                    models.get(i).runSingle(in, FlowTransformer.OUT_HIDDEN_STATES);
                    nanos[i][r] = System.nanoTime() - t0;
                }
            }
        }
        long peak = PeakRss.peakBytes();
        List<Point> out = new ArrayList<>();
        for (int i = 0; i < threads.length; i++) {
            Point p = new Point(spec, batch, threads[i], Samples.of(nanos[i]), gflop, peak, null, spinning[i]);
            out.add(p);
            settings.log("ORT forward %s batch %d, %s thread(s): %s, %.1f GFLOP/s", spec.name(), batch, p.threadsLabel(),
                    p.time().describeMs(), p.rate());
        }
        return out;
    }

    /**
     * TensorFlow flow-matching training steps at each thread count, alternating between the modules step by step;
     * refused with a note when the memory estimate does not fit.
     *
     * @param spec the model
     * @param batch the batch
     * @param threads the thread counts to compare
     * @param reps measured steps per thread count
     * @return one point per thread count
     */
    public List<Point> tfTrainStep(ModelSpec spec, int batch, int[] threads, int reps) {
        OnnxModel graph = FlowTransformer.build(spec.transformer(), 11, Init.RANDOM_ALL);
        double gflop = 3 * forwardGflop(graph, batch);
        ImportOptions shapes = DenoiserSpec.batchShapes(graph, batch, ImportOptions.defaults());
        long activations = GraphActivations.of(graph, DenoiserSpec.batchShapes(graph, batch,
                ImportOptions.builder().frozen().build())).bytes();
        MemoryEstimate.Builder eb = MemoryEstimate.builder();
        for (int th : threads) {
            eb.trainable("flow transformer (" + th + " thread" + (th > 1 ? "s" : "") + ")",
                    FlowTransformer.parameterCount(spec.transformer()), 0);
        }
        MemoryEstimate estimate = eb.pass("training step at batch " + batch, activations, true).build();
        MemoryBudget budget = MemoryBudget.detect();
        List<Point> out = new ArrayList<>();
        if (!estimate.fits(budget)) {
            String why = String.format(Locale.ROOT, "needs about %.1f GiB, %.1f GiB available", estimate.deviceBytes() / 1073741824.0,
                    budget.deviceBytes() / 1073741824.0);
            for (int th : threads) {
                out.add(new Point(spec, batch, th, Samples.of(0), gflop, -1, why, true));
            }
            settings.log("TF training step %s batch %d skipped: %s", spec.name(), batch, why);
            return out;
        }
        AdamWConfig adam = AdamWConfig.constant(1e-5);
        List<TfModule> modules = new ArrayList<>();
        long[][] nanos;
        PeakRss.reset();
        try {
            List<FlowMatchingTrainer> trainers = new ArrayList<>();
            for (int th : threads) {
                TfModule m = DenoiserSpec.inHouse().applyTo(TfModule.builder(graph).name("flow_matching_" + th)
                        .sessionOptions(TfSessionOptions.defaults().withIntraOpThreads(th).withInterOpThreads(1))
                        .importOptions(shapes).optimizer(adam)).build();
                modules.add(m);
                trainers.add(FlowMatchingTrainer.builder().config(FlowMatchingConfig.of(1, batch, Long.MAX_VALUE / 2, adam))
                        .model(m).dataset(DistillationBench.dataset(spec.transformer())).build());
            }
            long longest = 0;
            for (FlowMatchingTrainer t : trainers) {
                for (int i = 0; i < 3; i++) {
                    long t0 = System.nanoTime();
                    t.trainStep();
                    long took = System.nanoTime() - t0;
                    if (i == 0) {
                        continue; // the first step builds the gradient graphs
                    }
                    longest = Math.max(longest, took);
                    if (took > LONG_CALL_NANOS) {
                        break; // one step after the first warms the session enough for steps this long
                    }
                }
            }
            nanos = new long[threads.length][longest > LONG_CALL_NANOS ? Math.min(reps, LONG_REPS) : reps];
            for (int r = 0; r < nanos[0].length; r++) {
                for (int i = 0; i < trainers.size(); i++) {
                    long t0 = System.nanoTime();
                    trainers.get(i).trainStep();
                    nanos[i][r] = System.nanoTime() - t0;
                }
            }
        } finally {
            modules.forEach(TfModule::close);
        }
        long peak = PeakRss.peakBytes();
        for (int i = 0; i < threads.length; i++) {
            Point p = new Point(spec, batch, threads[i], Samples.of(nanos[i]), gflop, peak, null, true);
            out.add(p);
            settings.log("TF training step %s batch %d, %d thread(s): %s, %.1f GFLOP/s", spec.name(), batch, threads[i],
                    p.time().describeMs(), p.rate());
        }
        return out;
    }

    // ------------------------------------------------------------------ tables

    /** @param v a value @return it with 3 significant digits */
    static String sig(double v) {
        if (!Double.isFinite(v)) {
            return "n/a";
        }
        return new java.math.BigDecimal(v).round(new java.math.MathContext(3)).stripTrailingZeros().toPlainString();
    }

    /**
     * @param title what the time is (e.g. "ORT forward")
     * @param points measured points
     * @return tokens, batch, threads, time, GFLOP, GFLOP/s, time per image token
     */
    public static Table table(String title, List<Point> points) {
        Table t = Table.of("model", "image tokens", "batch", "threads", title + " (ms)", "GFLOP (products)", "GFLOP/s",
                "µs / image token / sample", "peak RSS");
        for (Point p : points) {
            if (p.skipped() != null) {
                t.row(p.spec().name(), p.spec().imageTokens(), p.batch(), p.threadsLabel(), "not run: " + p.skipped(),
                        sig(p.gflop()), "", "", "");
                continue;
            }
            t.row(p.spec().name(), p.spec().imageTokens(), p.batch(), p.threadsLabel(), p.time().describeMs(),
                    sig(p.gflop()), sig(p.rate()),
                    String.format(Locale.ROOT, "%.2f", p.time().median() / 1e3 / p.spec().imageTokens() / p.batch()),
                    PeakRss.mib(p.peakRss()));
        }
        return t;
    }
}
