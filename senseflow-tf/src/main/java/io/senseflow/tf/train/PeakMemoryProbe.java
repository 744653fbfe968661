package io.senseflow.tf.train;

import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.FlowMatchingConfig;
import io.senseflow.train.FlowMatchingTrainer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Measures the native memory of flow-matching training of the in-house transformer in this process, to check
 * {@link MemoryEstimate} against (docs/memory.md, "Measured on the CPU"). Meant to run in a fresh JVM per size
 * ({@link #measureInChild}), started with a fixed, pre-touched heap ({@code -Xms} = {@code -Xmx},
 * {@code -XX:+AlwaysPreTouch}) so that the heap is resident before the measurement starts, with
 * {@link #ALLOCATOR_ENV} (one malloc arena, fixed mmap threshold) and one TensorFlow thread, so that the peak repeats.
 *
 * <p>Method: TensorFlow is loaded and warmed up on a one-block model (kernels, thread pools, a first session), that
 * model is closed, the transformer's ONNX graph is built on the heap; then the process's peak resident memory is reset
 * ({@code 5 > /proc/self/clear_refs}) and its resident memory read ({@code VmRSS}, the baseline). The module is built
 * (import, session, variables fed) and trained for a few AdamW steps; the measured peak is {@code VmHWM} minus the
 * baseline: what the training run added to the process, native memory only (the heap was already resident).
 * {@code -Dprobe.verbose=true} prints the resident memory and peak after the build and after each step.
 *
 * <p>Not thread-safe: a measurement tool for a process of its own.
 */
public final class PeakMemoryProbe {
    private PeakMemoryProbe() {
    }

    /**
     * glibc settings of the measuring child (docs/memory.md, "Method"): one malloc arena (no per-thread arenas whose
     * fragmentation depends on which thread ran which kernel), a fixed mmap threshold of 64 KiB (every tensor buffer of
     * 64 KiB or more is its own mapping, returned to the system when freed, and the threshold does not adapt to earlier
     * frees, which is what made the peak grow over the first steps), and trimming of the heap top at 128 KiB. With these
     * the resident high-water mark follows the bytes alive at the peak.
     */
    public static final java.util.Map<String, String> ALLOCATOR_ENV = java.util.Map.of("MALLOC_ARENA_MAX", "1",
            "MALLOC_MMAP_THRESHOLD_", "65536", "MALLOC_TRIM_THRESHOLD_", "131072", "MALLOC_TOP_PAD_", "0");

    /** Session options of the measured run: one intra-op and one inter-op thread (one schedule), Grappler off. */
    static TfSessionOptions sessionOptions() {
        return TfSessionOptions.defaults().withIntraOpThreads(1).withInterOpThreads(1).withGraphOptimizations(false);
    }

    /**
     * One size of the in-house transformer: 4 latent channels, patch 2, 32 text tokens of width 64, MLP ratio 4.
     *
     * @param width model width
     * @param depth blocks
     * @param heads attention heads
     * @param latentSide latent height and width ({@code (side/2)^2} image tokens)
     * @param batch training batch
     */
    public record Size(int width, int depth, int heads, int latentSide, int batch) {
        /** @return the transformer's configuration */
        public FlowTransformer.Config config() {
            return FlowTransformer.Config.builder().latentChannels(4).latentSize(latentSide, latentSide).patchSize(2)
                    .width(width).depth(depth).heads(heads).textWidth(64).textLength(32).pooledWidth(64).mlpRatio(4)
                    .build();
        }

        /** @return e.g. {@code w384 d6 32x32 b4} */
        public String label() {
            return String.format(Locale.ROOT, "width %d, depth %d, %dx%d latents, batch %d", width, depth, latentSide,
                    latentSide, batch);
        }
    }

    /**
     * @param parameters the transformer's parameters
     * @param forwardActivations its forward activations at the batch ({@link GraphActivations})
     * @param baselineBytes resident memory before the module was built
     * @param peakBytes peak resident memory after the steps
     * @param steps training steps run
     * @param builtBytes resident memory after the module was built, before its first step, minus the baseline (the
     *     weights, accumulators, moments and the graph); -1 where not measured
     */
    public record Measurement(long parameters, long forwardActivations, long baselineBytes, long peakBytes, int steps,
                              long builtBytes) {
        /**
         * A measurement without the after-build figure.
         *
         * @param parameters the transformer's parameters
         * @param forwardActivations its forward activations
         * @param baselineBytes resident memory before the build
         * @param peakBytes peak resident memory
         * @param steps steps run
         */
        public Measurement(long parameters, long forwardActivations, long baselineBytes, long peakBytes, int steps) {
            this(parameters, forwardActivations, baselineBytes, peakBytes, steps, -1);
        }

        /** @return the peak the training run added, bytes */
        public long measuredBytes() {
            return peakBytes - baselineBytes;
        }
    }

    /**
     * The estimate of one flow-matching training run of {@code size}: the transformer's parameters as a trainable
     * module (16 B each), its graph (one import, one kind of run), one forward + backward pass counted on its gradient
     * graph, no runtime overhead (the measurement subtracts the loaded libraries).
     *
     * @param size the size
     * @return the estimate
     */
    public static MemoryEstimate estimate(Size size) {
        FlowTransformer.Config cfg = size.config();
        OnnxModel model = FlowTransformer.build(cfg, 1);
        GraphActivations.Backward b = backwardCounts(model, size);
        return MemoryEstimate.builder().runtimeOverhead(false)
                .trainable("in-house transformer (" + size.label() + ")", FlowTransformer.parameterCount(cfg), 0)
                .graphs("in-house transformer", b.totalOps(), 1)
                .backwardPass("flow-matching step at batch " + size.batch(), b).build();
    }

    /** The gradient-graph counts of {@code size}'s training pass (every initializer trainable, as trained here). */
    public static GraphActivations.Backward backwardCounts(OnnxModel model, Size size) {
        return GraphActivations.backward(model, DenoiserSpec.batchShapes(model, size.batch(), ImportOptions.defaults()));
    }

    /**
     * Runs this class's {@code main} in a fresh JVM with this JVM's class path and returns what it measured.
     *
     * @param size the size
     * @param steps training steps
     * @return the measurement
     * @throws IOException if the child cannot be started or fails
     */
    public static Measurement measureInChild(Size size, int steps) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        long params = FlowTransformer.parameterCount(size.config());
        // the heap holds the ONNX graph (4 B per parameter) and the variables' initial values; pre-touched, fixed
        long heapMiB = 192 + 12 * params / (1 << 20);
        List<String> cmd = new ArrayList<>(List.of(java, "-Xms" + heapMiB + "m", "-Xmx" + heapMiB + "m",
                "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp",
                System.getProperty("java.class.path"), PeakMemoryProbe.class.getName(), Integer.toString(size.width()), Integer.toString(size.depth()),
                Integer.toString(size.heads()), Integer.toString(size.latentSide()), Integer.toString(size.batch()),
                Integer.toString(steps)));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("TF_ENABLE_ONEDNN_OPTS", "0");
        pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
        pb.environment().putAll(ALLOCATOR_ENV);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int rc;
        try {
            rc = p.waitFor();
        } catch (InterruptedException e) {
            p.destroy();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while measuring " + size.label(), e);
        }
        for (String line : out.split("\n")) {
            if (line.startsWith("PEAK ")) {
                String[] f = line.substring(5).trim().split(" ");
                return new Measurement(Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]),
                        Long.parseLong(f[3]), Integer.parseInt(f[4]), f.length > 5 ? Long.parseLong(f[5]) : -1);
            }
        }
        throw new IOException("memory probe for " + size.label() + " exited with " + rc + " and no result:\n" + out);
    }

    /**
     * Measures one size in this process and prints {@code PEAK parameters activations baseline peak steps}.
     *
     * @param args width depth heads latentSide batch steps
     */
    public static void main(String[] args) {
        Size size = new Size(Integer.parseInt(args[0]), Integer.parseInt(args[1]), Integer.parseInt(args[2]),
                Integer.parseInt(args[3]), Integer.parseInt(args[4]));
        int steps = Integer.parseInt(args[5]);
        Measurement m = args.length > 6 ? measureFrozen(size, steps, args[6]) : measure(size, steps);
        System.out.printf(Locale.ROOT, "PEAK %d %d %d %d %d %d%n", m.parameters(), m.forwardActivations(),
                m.baselineBytes(), m.peakBytes(), m.steps(), m.builtBytes());
    }

    /**
     * Measures one size in this process (see the class comment; meaningful in a fresh JVM only).
     *
     * @param size the size
     * @param steps training steps
     * @return the measurement
     */
    public static Measurement measure(Size size, int steps) {
        train(new Size(32, 1, 2, 8, 1), 2); // load and warm TensorFlow up on a tiny model
        FlowTransformer.Config cfg = size.config();
        OnnxModel model = FlowTransformer.build(cfg, 1);
        long acts = GraphActivations.of(model, DenoiserSpec.batchShapes(model, size.batch(),
                ImportOptions.builder().frozen().build())).bytes();
        System.gc();
        if (!resetPeak()) {
            throw new IllegalStateException("cannot reset the peak resident memory (/proc/self/clear_refs)");
        }
        long baseline = status("VmRSS:");
        baseline0 = baseline;
        train(model, size, steps);
        if (Boolean.getBoolean("probe.verbose")) {
            System.out.printf(Locale.ROOT, "after close: rss %.1f MiB%n", (status("VmRSS:") - baseline) / 1048576.0);
        }
        long peak = status("VmHWM:");
        return new Measurement(FlowTransformer.parameterCount(cfg), acts, baseline, peak, steps, built);
    }

    /**
     * Measures passes of the transformer as a frozen module (a teacher, a LoRA base) in this process: {@code mode} is
     * {@code forward} or {@code backward} (gradients with respect to the input), with {@code -bf16} for
     * {@link ImportOptions.Builder#frozenBfloat16} storage, e.g. {@code backward-bf16}, or {@code -bf16c} for
     * {@link ImportOptions.Builder#computeBfloat16} (storage and the frozen-weight products in bfloat16), and
     * {@code -var} at the end for
     * weights in frozen variables rather than graph constants (inline limit 16 KiB instead of 1 MiB).
     *
     * @param size the size
     * @param passes passes to run
     * @param mode what to run
     * @return the measurement (parameters: the frozen ones)
     */
    public static Measurement measureFrozen(Size size, int passes, String mode) {
        train(new Size(32, 1, 2, 8, 1), 2);
        FlowTransformer.Config cfg = size.config();
        OnnxModel model = FlowTransformer.build(cfg, 1);
        long acts = GraphActivations.of(model, DenoiserSpec.batchShapes(model, size.batch(),
                ImportOptions.builder().frozen().build())).bytes();
        boolean bf16 = mode.contains("-bf16");
        boolean bf16Compute = mode.contains("-bf16c");
        boolean vars = mode.endsWith("-var");
        boolean backward = mode.startsWith("backward");
        System.gc();
        if (!resetPeak()) {
            throw new IllegalStateException("cannot reset the peak resident memory (/proc/self/clear_refs)");
        }
        long baseline = status("VmRSS:");
        baseline0 = baseline;
        try (TfModule m = DenoiserSpec.inHouse().applyTo(TfModule.builder(model).name("probe")
                .sessionOptions(sessionOptions())
                .importOptions(DenoiserSpec.batchShapes(model, size.batch(), ImportOptions.builder().frozen()
                        .frozenBfloat16(bf16).computeBfloat16(bf16Compute).inlineConstantBytes(vars ? 16 << 10 : 1L << 20).build()))).build()) {
            DistillationBatch b = data(size).batch(0, size.batch());
            float[] sig = new float[size.batch()];
            java.util.Arrays.fill(sig, 0.5f);
            io.senseflow.train.ModuleInputs in = io.senseflow.train.ModuleInputs.denoiser(b.realSamples(), sig,
                    b.conditioning());
            for (int i = 0; i < passes; i++) {
                if (backward) {
                    m.backward(in, io.senseflow.train.Upstream.mse(b.realSamples(), null),
                            io.senseflow.train.GradientMode.INPUTS);
                } else {
                    m.forward(in);
                }
                phase(mode + " " + (i + 1), baseline);
            }
        }
        long peak = status("VmHWM:");
        return new Measurement(FlowTransformer.parameterCount(cfg), acts, baseline, peak, passes);
    }

    private static void train(Size size, int steps) {
        train(FlowTransformer.build(size.config(), 1), size, steps);
    }

    private static long baseline0 = -1;
    private static long built = -1;

    private static void phase(String what, long baseline) {
        if (Boolean.getBoolean("probe.verbose") && baseline >= 0) {
            System.out.printf(Locale.ROOT, "%s: rss %.1f MiB, peak %.1f MiB%n", what,
                    (status("VmRSS:") - baseline) / 1048576.0, (status("VmHWM:") - baseline) / 1048576.0);
        }
    }

    private static void train(OnnxModel model, Size size, int steps) {
        AdamWConfig adam = AdamWConfig.constant(1e-4);
        try (TfModule m = DenoiserSpec.inHouse().applyTo(TfModule.builder(model).name("probe")
                .sessionOptions(sessionOptions())
                .importOptions(DenoiserSpec.batchShapes(model, size.batch(), ImportOptions.defaults())).optimizer(adam))
                .build()) {
            FlowMatchingTrainer t = FlowMatchingTrainer.builder()
                    .config(FlowMatchingConfig.of(1, size.batch(), steps, adam)).model(m).dataset(data(size)).build();
            if (baseline0 >= 0) {
                built = status("VmRSS:") - baseline0;
            }
            phase("built", baseline0);
            for (int i = 0; i < steps; i++) {
                t.trainStep();
                phase("step " + (i + 1), baseline0);
            }
        }
    }

    static DistillationDataset data(Size size) {
        int s = size.latentSide();
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int n) {
                Tensor x = GaussianNoise.sample(1, iteration * n, 60, n, 4, s, s).scale(0.5f);
                Conditioning c = Conditioning.of(GaussianNoise.sample(1, iteration * n, 61, n, 32, 64),
                        GaussianNoise.sample(1, iteration * n, 62, n, 64));
                return new DistillationBatch(List.of(), c, null, x);
            }

            @Override
            public int[] sampleShape() {
                return new int[] {4, s, s};
            }
        };
    }

    static boolean resetPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5", StandardCharsets.US_ASCII);
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    static long status(String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
                if (l.startsWith(field)) {
                    return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
