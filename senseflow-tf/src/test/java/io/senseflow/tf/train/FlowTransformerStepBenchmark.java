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
import io.senseflow.train.ModuleInputs;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Step time of flow-matching training for the in-house transformer at the size of the reference DiT in
 * docs/training.md (3 x 32 x 32 pixels, patch 4, width 128, depth 4, 4 heads, adaLN-Zero), batch 32. A measurement,
 * not a test: tagged {@code experiment}, so the default build skips it. Run with
 *
 * <pre>
 * mvn -pl senseflow-tf -am test -Dtest='FlowTransformerStepBenchmark' -Dexcluded.groups= -Dgroups=experiment \
 *     -Dsurefire.failIfNoSpecifiedTests=false
 * </pre>
 */
@Tag("experiment")
class FlowTransformerStepBenchmark {
    static final int BATCH = 32;
    static final int WARMUP = 5;
    static final int MEASURED = Integer.getInteger("benchmark.steps", 40);

    static FlowTransformer.Config config() {
        // text stream reduced to one token: the DiT it is compared with is class-conditioned, not text-conditioned
        return FlowTransformer.Config.builder().latentChannels(3).latentSize(32, 32).patchSize(4).width(128).depth(4)
                .heads(4).textWidth(32).textLength(1).pooledWidth(32).mlpRatio(4).build();
    }

    static DistillationDataset data() {
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int n) {
                Tensor x = GaussianNoise.sample(1, iteration * n, 60, n, 3, 32, 32).scale(0.5f);
                Conditioning c = Conditioning.of(GaussianNoise.sample(1, iteration * n, 61, n, 1, 32),
                        GaussianNoise.sample(1, iteration * n, 62, n, 32));
                return new DistillationBatch(List.of(), c, null, x);
            }

            @Override
            public int[] sampleShape() {
                return new int[] {3, 32, 32};
            }
        };
    }

    @Test
    void stepTimeAtBatch32() {
        OnnxModel model = FlowTransformer.build(config(), 1);
        MemoryEstimate e = MemoryEstimate.builder()
                .trainable("flow transformer", FlowTransformer.parameterCount(config()), 0)
                .pass("training step at batch " + BATCH, GraphActivations.of(model, DenoiserSpec.batchShapes(model, BATCH,
                        ImportOptions.builder().frozen().build())).bytes(), true).build();
        System.out.print("memory estimate:\n" + e.table());
        for (int threads : new int[] {2, 1}) {
            measure(threads);
            System.out.println("resident memory of the process now: " + rssMiB() + " MiB");
        }
    }

    static long rssMiB() {
        try {
            for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (l.startsWith("VmRSS:")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", "")) / 1024;
                }
            }
        } catch (java.io.IOException e) {
            return -1;
        }
        return -1;
    }

    private static void measure(int threads) {
        FlowTransformer.Config cfg = config();
        OnnxModel model = FlowTransformer.build(cfg, 1);
        AdamWConfig adam = AdamWConfig.constant(1e-4);
        long t0 = System.nanoTime();
        try (TfModule m = DenoiserSpec.inHouse().applyTo(TfModule.builder(model).name("dit")
                .sessionOptions(TfSessionOptions.defaults().withIntraOpThreads(threads).withInterOpThreads(1))
                .importOptions(DenoiserSpec.batchShapes(model, BATCH, ImportOptions.defaults())).optimizer(adam)).build()) {
            double build = (System.nanoTime() - t0) / 1e9;
            FlowMatchingTrainer trainer = FlowMatchingTrainer.builder()
                    .config(FlowMatchingConfig.of(1, BATCH, WARMUP + MEASURED, adam)).model(m).dataset(data()).build();
            long[] step = new long[MEASURED];
            for (int i = 0; i < WARMUP + MEASURED; i++) {
                long s = System.nanoTime();
                trainer.trainStep();
                if (i >= WARMUP) {
                    step[i - WARMUP] = System.nanoTime() - s;
                }
            }
            DistillationBatch b = data().batch(0, BATCH);
            float[] sig = new float[BATCH];
            Arrays.fill(sig, 0.5f);
            ModuleInputs in = ModuleInputs.denoiser(b.realSamples(), sig, b.conditioning());
            long[] fwd = new long[MEASURED];
            for (int i = 0; i < WARMUP + MEASURED; i++) {
                long s = System.nanoTime();
                m.forward(in);
                if (i >= WARMUP) {
                    fwd[i - WARMUP] = System.nanoTime() - s;
                }
            }
            // the phases of one step, each timed on its own
            long[][] phase = new long[4][MEASURED];
            io.senseflow.tensor.Tensor target = b.realSamples().scale(-1f);
            for (int i = 0; i < WARMUP + MEASURED; i++) {
                long s0 = System.nanoTime();
                m.optimizer().zeroGradients();
                long s1 = System.nanoTime();
                m.backward(in, io.senseflow.train.Upstream.mse(target, null), io.senseflow.train.GradientMode.PARAMETERS);
                long s2 = System.nanoTime();
                m.optimizer().clipGradientNorm(1.0);
                long s3 = System.nanoTime();
                m.optimizer().step();
                long s4 = System.nanoTime();
                if (i >= WARMUP) {
                    phase[0][i - WARMUP] = s1 - s0;
                    phase[1][i - WARMUP] = s2 - s1;
                    phase[2][i - WARMUP] = s3 - s2;
                    phase[3][i - WARMUP] = s4 - s3;
                }
            }
            System.out.printf(Locale.ROOT, "FlowTransformer %,d parameters, batch %d, intra-op threads %d: build %.2f s;"
                    + " training step median %.1f ms (p10 %.1f, p90 %.1f, %d steps after %d warm-up); forward median"
                    + " %.1f ms; phases (medians): zero %.1f, forward+backward %.1f, norm+clip %.1f, AdamW %.1f ms%n",
                    FlowTransformer.parameterCount(cfg), BATCH, threads, build, median(step) / 1e6,
                    pct(step, 0.1) / 1e6, pct(step, 0.9) / 1e6, MEASURED, WARMUP, median(fwd) / 1e6,
                    median(phase[0]) / 1e6, median(phase[1]) / 1e6, median(phase[2]) / 1e6, median(phase[3]) / 1e6);
        }
    }

    static double median(long[] v) {
        return pct(v, 0.5);
    }

    static double pct(long[] v, double q) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[(int) Math.round(q * (s.length - 1))];
    }
}
