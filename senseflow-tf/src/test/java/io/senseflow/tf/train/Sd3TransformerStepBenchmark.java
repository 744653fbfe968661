package io.senseflow.tf.train;

import io.senseflow.fixtures.Fixtures;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.tensorflow.GraphOperation;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.proto.NodeExecStats;
import org.tensorflow.proto.RunMetadata;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.proto.StepStats;

/**
 * One training step (zero gradients, forward + backward with an MSE upstream, AdamW) of the shared Optimum SD3
 * transformer (3 joint blocks, width 36), batch 4 of 64x64 images (16 x 8 x 8 latents, 101 text tokens), imported
 * with concrete shapes and every float initializer trainable, 2 intra-op threads. The PyTorch side of the comparison
 * is {@code senseflow-bench/python/sd3_step.py}, which drives this benchmark round by round (docs/training.md,
 * "Training-step speed vs PyTorch"). A measurement, not a test: tagged {@code experiment}, so the default build skips
 * it.
 *
 * <p>System properties: {@code sd3bench.dir} (handshake folder: wait for {@code go-<r>}, run the steps it names,
 * write {@code java-<r>.txt}; without it, one standalone round), {@code sd3bench.steps} (steps per round, default
 * 10), {@code sd3bench.threads} (intra-op threads, default 2), {@code sd3bench.xla} (request XLA JIT; on CPU it needs
 * {@code TF_XLA_FLAGS=--tf_xla_cpu_global_jit} as well), {@code sd3bench.profile} (after the rounds, traced runs of
 * the backward: the top ops by time from TensorFlow's step stats).
 */
@Tag("experiment")
class Sd3TransformerStepBenchmark {
    static final int BATCH = 4;
    static final int TOKENS = 101;

    @Test
    void trainingStepAlternatingWithPyTorch() throws Exception {
        String dir = System.getProperty("sd3bench.dir");
        int steps = Integer.getInteger("sd3bench.steps", 10);
        boolean xla = Boolean.getBoolean("sd3bench.xla");
        OnnxModel model = OnnxModel.read(Fixtures.path("optimum-exports/sd3/onnx").resolve("transformer/model.onnx"));
        AdamWConfig adam = AdamWConfig.constant(1e-4).withClipNorm(0);
        TfSessionOptions session = TfSessionOptions.defaults()
                .withIntraOpThreads(Integer.getInteger("sd3bench.threads", 2)).withInterOpThreads(1)
                .withXlaJit(xla).withOneDnnAllowed(Boolean.getBoolean("senseflow.tf.allowOneDnn"));
        long t0 = System.nanoTime();
        try (TfModule m = TfModule.builder(model).name("sd3")
                .input(InputBinding.of(ModuleInputs.X, "hidden_states"))
                .input(InputBinding.of(ModuleInputs.SIGMA, "timestep").scaled(1000))
                .input(InputBinding.of(ModuleInputs.TOKENS, "encoder_hidden_states"))
                .input(InputBinding.of(ModuleInputs.POOLED, "pooled_projections"))
                .output("out_hidden_states").outputLike(ModuleInputs.X)
                .importOptions(ImportOptions.builder().inputShape("hidden_states", BATCH, 16, 8, 8)
                        .inputShape("encoder_hidden_states", BATCH, TOKENS, 80)
                        .inputShape("pooled_projections", BATCH, 64).inputShape("timestep", BATCH).build())
                .sessionOptions(session).optimizer(adam).build()) {
            ModuleInputs in = ModuleInputs.denoiser(GaussianNoise.sample(7, 0, 1, BATCH, 16, 8, 8),
                    new float[] {0.9f, 0.6f, 0.35f, 0.1f}, Conditioning.of(GaussianNoise.sample(7, 0, 2, BATCH, TOKENS, 80),
                            GaussianNoise.sample(7, 0, 3, BATCH, 64)));
            Tensor target = GaussianNoise.sample(7, 0, 4, BATCH, 16, 8, 8);
            int params = m.parameters().specs().size();
            long count = m.parameters().specs().stream().mapToLong(p -> Arrays.stream(p.shape()).asLongStream()
                    .reduce(1, (a, b) -> a * b)).sum();
            System.out.printf(Locale.ROOT, "sd3 transformer: %d trainable tensors, %,d parameters, build %.2f s, xla %s%n",
                    params, count, (System.nanoTime() - t0) / 1e9, xla);
            step(m, in, target); // first call builds the backward graph
            if (dir == null) {
                long[] t = new long[steps];
                for (int i = 0; i < steps; i++) {
                    t[i] = step(m, in, target);
                }
                System.out.printf(Locale.ROOT, "median %.2f ms%n", median(t) / 1e6);
            } else {
                rounds(Path.of(dir), m, in, target);
            }
            if (Boolean.getBoolean("sd3bench.profile")) {
                profile(m, in, target);
            }
        }
    }

    static long step(TfModule m, ModuleInputs in, Tensor target) {
        long s = System.nanoTime();
        m.optimizer().zeroGradients();
        m.backward(in, Upstream.mse(target, null), GradientMode.PARAMETERS);
        m.optimizer().step();
        return System.nanoTime() - s;
    }

    /** Waits for go-r (its text: the step count, or "quit"), times that many steps, writes java-r.txt (ns). */
    static void rounds(Path dir, TfModule m, ModuleInputs in, Tensor target) throws IOException, InterruptedException {
        Files.writeString(dir.resolve("java-ready"), "ready");
        for (int r = 0;; r++) {
            Path go = dir.resolve("go-" + r);
            while (!Files.exists(go)) {
                Thread.sleep(20);
            }
            String what = Files.readString(go).trim();
            if (what.equals("quit")) {
                return;
            }
            int n = Integer.parseInt(what);
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < n; i++) {
                sb.append(step(m, in, target)).append('\n');
            }
            Path tmp = dir.resolve("java-" + r + ".tmp");
            Files.writeString(tmp, sb.toString());
            Files.move(tmp, dir.resolve("java-" + r + ".txt"), StandardCopyOption.ATOMIC_MOVE);
        }
    }

    /**
     * One traced step: the session run of the backward (forward + backward + accumulate) and of the AdamW update,
     * replayed with FULL_TRACE on the same ops TfModule runs, found in the graph by scope.
     */
    static void profile(TfModule m, ModuleInputs in, Tensor target) {
        Session s = m.workspace().session();
        Map<String, Long> byType = new HashMap<>();
        Map<String, Long> byNode = new HashMap<>();
        Map<String, String> typeOf = new HashMap<>();
        m.workspace().graph().operations().forEachRemaining(o -> typeOf.put(o.name(), o.type()));
        RunOptions trace = RunOptions.newBuilder().setTraceLevel(RunOptions.TraceLevel.FULL_TRACE).build();
        List<String> placeholders = new ArrayList<>();
        m.workspace().graph().operations().forEachRemaining(o -> {
            if (o.type().equals("Placeholder")) {
                placeholders.add(o.name());
            }
        });
        long total = 0;
        long nodes = 0;
        for (int rep = 0; rep < 5; rep++) {
            RunMetadata md = tracedBackward(s, placeholders, typeOf, in, target, trace);
            if (rep < 2) {
                continue; // warm
            }
            StepStats st = md.getStepStats();
            for (var dev : st.getDevStatsList()) {
                for (NodeExecStats n : dev.getNodeStatsList()) {
                    long us = n.getAllEndRelMicros();
                    String type = typeOf.getOrDefault(n.getNodeName(), n.getTimelineLabel().split(" ")[0]);
                    byType.merge(type, us, Long::sum);
                    byNode.merge(n.getNodeName(), us, Long::sum);
                    total += us;
                    nodes++;
                }
            }
        }
        System.out.printf(Locale.ROOT, "profile of the backward run (forward + backward + accumulate; AdamW is a separate"
                + " run): %.1f ms of kernel time and %d kernels per step (3 traced steps)%n", total / 3e3, nodes / 3);
        print("op type", byType, total);
        print("node", byNode, total);
    }

    /** The backward run TfModule makes (inputs, MSE target and weights fed; the accumulate group as target). */
    static RunMetadata tracedBackward(Session s, List<String> placeholders, Map<String, String> typeOf, ModuleInputs in,
                                      Tensor target, RunOptions trace) {
        Session.Runner r = s.runner();
        List<org.tensorflow.Tensor> fed = new ArrayList<>();
        for (String p : placeholders) {
            Tensor t;
            if (p.equals("sd3/v/inputs/x")) {
                t = in.get(ModuleInputs.X);
            } else if (p.equals("sd3/v/inputs/sigma")) {
                t = in.get(ModuleInputs.SIGMA);
            } else if (p.equals("sd3/v/inputs/tokens")) {
                t = in.get(ModuleInputs.TOKENS);
            } else if (p.equals("sd3/v/inputs/pooled")) {
                t = in.get(ModuleInputs.POOLED);
            } else if (p.equals("sd3/backward_mse/target")) {
                t = target;
            } else if (p.equals("sd3/backward_mse/weights")) {
                t = Tensor.full(1f, BATCH);
            } else {
                continue;
            }
            org.tensorflow.Tensor tt = io.senseflow.tf.graph.TfTensors.of(t);
            fed.add(tt);
            r.feed(p, tt);
        }
        String acc = typeOf.keySet().stream().filter(n -> n.startsWith("sd3/backward_mse/") && n.endsWith("accumulate")
                && typeOf.get(n).equals("NoOp")).findFirst().orElseThrow(() -> new IllegalStateException("no accumulate"));
        r.addTarget(acc).setOptions(trace);
        try (Result res = r.runAndFetchMetadata()) {
            return res.getMetadata().orElseThrow();
        } finally {
            fed.forEach(org.tensorflow.Tensor::close);
        }
    }

    static void print(String what, Map<String, Long> m, long total) {
        System.out.println("top by " + what + ":");
        m.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue(Comparator.reverseOrder())).limit(20)
                .forEach(e -> System.out.printf(Locale.ROOT, "  %-70s %8.2f ms/step %5.1f%%%n", e.getKey(),
                        e.getValue() / 3e3, 100.0 * e.getValue() / total));
    }

    static double median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
