package io.senseflow.tf.run;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Family;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.lora.LoraConfig;
import io.senseflow.tf.lora.LoraGraph;
import io.senseflow.tf.lora.SharedBase;
import io.senseflow.tf.testing.OrtOracle;
import io.senseflow.tf.train.StudentModules;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ParameterSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;

/**
 * LoRA SenseFlow through the front door on each shared Optimum folder (docs/distillation.md, "LoRA"): the student
 * starts bit-identical to the teacher (ONNX Runtime, no graph rewrites, on the teacher's graph and the adapter graph
 * at its initial adapters); the run trains (finite losses, adapters move, with IDA and the EMA on the adapters); the
 * base weights are held once in the TensorFlow graph (counted from its ops) and are bit-identical after training; the
 * exported (merged) student equals the base + adapters form within 1e-5 in ONNX Runtime, while differing from the
 * teacher; a stopped and resumed run ends with bit-identical adapters.
 */
class LoraDistillationRunTest {
    static final int N = 2;

    @TempDir
    Path dir;

    Path prompts() throws IOException {
        Path p = dir.resolve("prompts.txt");
        Files.writeString(p, "a red circle on a blue square\n");
        return p;
    }

    DistillationRun.Builder run(Path teacher, Path folder, Family family) throws IOException {
        // SDXL's UNet is the costly one: its run is at 32 x 32 (latent 4 x 4), the transformers' at 64 x 64
        int size = family == Family.SDXL ? 32 : 64;
        // a learning rate far above the released one, so three steps move the adapters well past the tolerances
        DistillationConfig c = DistillationConfig.preset(Recipe.SENSEFLOW, family).toBuilder()
                .generatorOptimizer(AdamWConfig.constant(2e-2)).fakeScoreOptimizer(AdamWConfig.constant(2e-2))
                .emaDecay(0.5).build();
        return DistillationRun.builder(teacher).prompts(prompts()).folder(folder).config(c).iterations(N).batchSize(1)
                .seed(11).checkpointEvery(1).imageSize(size, size).loadOptions(DistillationRunTest.OPTIONS).threads(2)
                .lora(LoraConfig.rank(3).alpha(6).build());
    }

    void loraRun(String name, Family family, boolean resume) throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/" + name + "/onnx", dir.resolve("teacher"));
        long start = System.nanoTime();
        Map<String, Tensor> finalAdapters;
        Map<String, Tensor> exportedAdapters;
        LoraGraph lora;
        Path exported = dir.resolve("student");
        List<IterationMetrics> metrics = new ArrayList<>();
        try (DistillationRun r = run(teacher, dir.resolve("run-a"), family).listener(metrics::add).build()) {
            phase(name, "built", start);
            StudentModules m = r.modules();
            lora = r.lora();
            assertThat(lora.targets()).isNotEmpty();
            assertThat(r.config().ida().enabled()).isTrue();
            Map<String, TensorValue> inputs = inputs(lora.base(), name);

            // starts as the teacher: adapters are the graph's initial values (up = 0), outputs bit for bit
            Map<String, Tensor> initial = r.student().snapshot();
            assertThat(initial.keySet()).isEqualTo(lora.adapterNames());
            assertSame(initial, lora.initialAdapters());
            float[] teacherOut = OrtOracle.run(lora.base(), inputs, false).values().iterator().next().toFloats();
            float[] studentOut = OrtOracle.run(lora.withAdapters(initial), inputs, false).values().iterator().next()
                    .toFloats();
            assertThat(bits(studentOut)).as(name + " initial student vs teacher").isEqualTo(bits(teacherOut));

            // only adapters train; the base is one set of shared variables
            Set<String> trainable = new HashSet<>();
            for (ParameterSpec p : m.generator().parameters().specs()) {
                trainable.add(p.name());
            }
            assertThat(trainable).isEqualTo(lora.adapterNames());
            assertThat(m.fakeScore().parameters().specs()).isEqualTo(m.generator().parameters().specs());
            assertThat(m.ema().parameters().specs()).isEqualTo(m.generator().parameters().specs());
            SharedBase base = m.sharedBase();
            long matrixBytes = 0;
            for (TensorValue t : lora.base().graph().initializers()) {
                if (t.dataType() == DataType.FLOAT && t.dims().length >= 2) {
                    matrixBytes += t.byteSize();
                }
            }
            assertThat(base.bytes()).isEqualTo(matrixBytes);
            Map<String, Long> held = weightBytesByScope(m.workspace().graph());
            long adapterBytes = 4 * lora.adapterParameters();
            System.out.printf("%s: %d targets, %d adapter parameters; base matrices %d B; float bytes held in the TF"
                    + " graph by scope (variables + constants): %s%n", name, lora.targets().size(),
                    lora.adapterParameters(), matrixBytes, held);
            assertThat(held.get("shared_base")).isEqualTo(matrixBytes);
            for (String module : List.of("generator", "fake_score", "ema")) {
                // each module holds its adapters (x4 at most: value, gradient accumulator, AdamW m and v), the
                // base's vectors and folded constants, but no copy of the matrices
                assertThat(held.getOrDefault(module, 0L) - 4 * adapterBytes).as(name + " " + module)
                        .isLessThan(matrixBytes / 10);
            }
            assertThat(r.memoryEstimate().table()).contains("frozen base, one copy shared by G, F and the EMA");

            if (resume) {
                // a copy of the run folder at its iteration-1 checkpoint, resumed below in a fresh run
                r.runUntil(1, CancellationToken.none());
                io.senseflow.io.FileTrees.copy(dir.resolve("run-a"), dir.resolve("run-b"));
            }
            r.run(CancellationToken.none());
            System.out.printf("%s: LoRA build + %d iterations %.1f s%n", name, N, (System.nanoTime() - start) / 1e9);
            assertThat(metrics).hasSize(N);
            metrics.forEach(x -> x.losses().forEach((k, v) -> assertThat(v).as(name + " " + k).isFinite()));
            finalAdapters = r.student().snapshot();
            phase(name, "trained", start);
            // every up projection has moved off zero, except those whose output cannot reach the loss: SD3's last
            // block discards its text stream (its add_q_proj only feeds it), and at 32 x 32 SDXL's innermost
            // self-attention sees one token, where softmax is constant in q and k (as in PyTorch)
            java.util.regex.Pattern dead = java.util.regex.Pattern.compile(switch (name) {
                case "sd3" -> "^/transformer_blocks\\.2/attn/add_q_proj/";
                case "sdxl" -> "^/(down_blocks\\.2|mid_block|up_blocks\\.0)/attentions\\.\\d/transformer_blocks\\.\\d"
                        + "/attn1/to_[qk]/";
                default -> "^$";
            });
            List<String> still = new ArrayList<>();
            List<String> deadMoved = new ArrayList<>();
            for (LoraGraph.Target t : lora.targets()) {
                boolean zero = maxAbs(finalAdapters.get(t.up()).toArray()) == 0;
                boolean expectDead = t.nodes().stream().allMatch(n -> dead.matcher(n).find());
                if (zero && !expectDead) {
                    still.add(t.weight() + " " + t.nodes());
                }
                if (!zero && expectDead) {
                    deadMoved.add(t.weight() + " " + t.nodes());
                }
            }
            assertThat(still).as(name + " up projections that did not move").isEmpty();
            assertThat(deadMoved).as(name + " up projections with no path to the loss that moved").isEmpty();
            Map<String, Tensor> baseAfter = base.readAll();
            assertThat(baseAfter.keySet()).isEqualTo(base.names());
            String firstWeight = base.names().iterator().next();
            assertThat(bits(base.read(firstWeight).toArray())).isEqualTo(bits(baseAfter.get(firstWeight).toArray()));
            for (String w : base.names()) {
                TensorValue want = lora.base().graph().initializer(w).orElseThrow();
                assertThat(bits(baseAfter.get(w).toArray())).as(name + " base " + w).isEqualTo(bits(want.toFloats()));
            }
            phase(name, "base checked", start);
            exportedAdapters = m.ema().parameters().snapshot();
            r.exportStudent(exported);
            r.exportAdapters(dir.resolve("adapters.safetensors"));
            phase(name, "exported", start);
        }
        assertThat(Files.size(dir.resolve("adapters.safetensors"))).isGreaterThan(4 * lora.adapterParameters());

        // the exported (merged) student is the plain teacher graph with merged weights
        String component = name.equals("sdxl") ? "unet" : "transformer";
        OnnxModel merged = OnnxModel.read(exported.resolve(component).resolve("model.onnx"));
        assertThat(merged.graph().nodes().size()).isEqualTo(lora.base().graph().nodes().size());
        Map<String, TensorValue> inputs = inputs(lora.base(), name);
        float[] mergedOut = out(merged, inputs);
        float[] adapterOut = out(lora.withAdapters(exportedAdapters), inputs);
        float[] teacherOut = out(lora.base(), inputs);
        phase(name, "ONNX Runtime checks done", start);
        double agree = maxDiff(mergedOut, adapterOut);
        double moved = maxDiff(adapterOut, teacherOut);
        System.out.printf("%s: exported merged student vs base + adapters (EMA) max |diff| %.2e; vs teacher %.2e%n",
                name, agree, moved);
        assertThat(agree).isLessThanOrEqualTo(1e-5);
        assertThat(moved).as("the trained student differs from the teacher").isGreaterThan(1e-3);

        if (resume) {
            Path runB = dir.resolve("run-b");
            // resumed without .lora(...): the run folder's recorded settings apply
            try (DistillationRun r = run(teacher, runB, family).lora(null).resume(true).build()) {
                assertThat(r.lora()).isNotNull();
                assertThat(r.resumedFrom()).contains(1L);
                r.run(CancellationToken.none());
                assertSame(r.student().snapshot(), finalAdapters);
            }
        }
        System.out.printf("%s: whole LoRA case %.1f s%n", name, (System.nanoTime() - start) / 1e9);
    }

    @Test
    void sd3() throws IOException {
        loraRun("sd3", Family.SD35_MEDIUM, true);
    }

    @Test
    void fluxDev() throws IOException {
        loraRun("flux_dev", Family.FLUX, false);
    }

    /**
     * SDXL's UNet at 32 x 32 (latent 4 x 4): 30-33 s of CPU for the whole case (build 12-15 s, two iterations 14-15 s,
     * the checks, the export and five ONNX Runtime sessions of the UNet 3-4 s), on 2 cores at load 7-16.
     * It was 482 s before the base weights were read in one session run ({@link SharedBase#readAll}): one run per
     * weight made TensorFlow prepare a new fetch set on the whole three-module graph each time.
     */
    @Test
    void sdxl() throws IOException {
        loraRun("sdxl", Family.SDXL, false);
    }

    // ------------------------------------------------------------------ helpers

    /** Prints the wall time since {@code start} and the process's CPU time so far (every thread). */
    static void phase(String name, String what, long start) {
        System.out.printf("%s: %s at %.1f s wall, %.1f s CPU of the process%n", name, what,
                (System.nanoTime() - start) / 1e9, cpu());
    }

    /** CPU seconds this process has used (every thread, TensorFlow's and ONNX Runtime's included). */
    static double cpu() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime() / 1e9;
    }

    /** Float bytes of every variable and constant in the graph, by the first part of the op's scope. */
    static Map<String, Long> weightBytesByScope(Graph g) {
        Map<String, Long> out = new java.util.TreeMap<>();
        Iterator<GraphOperation> it = g.operations();
        while (it.hasNext()) {
            GraphOperation op = it.next();
            long bytes;
            if (op.type().equals("VarHandleOp")) {
                org.tensorflow.proto.DataType dt = op.attributes().getAttrType("dtype");
                if (dt != org.tensorflow.proto.DataType.DT_FLOAT) {
                    continue;
                }
                bytes = 4 * op.attributes().getAttrShape("shape").size();
            } else if (op.type().equals("Const") && op.output(0).dataType() == org.tensorflow.proto.DataType.DT_FLOAT) {
                bytes = 4 * Math.max(1, op.output(0).shape().size());
            } else {
                continue;
            }
            String scope = op.name().contains("/") ? op.name().substring(0, op.name().indexOf('/')) : op.name();
            out.merge(scope.replaceAll("_\\d+$", ""), bytes, Long::sum);
        }
        return out;
    }

    static Map<String, TensorValue> inputs(OnnxModel graph, String family) {
        Set<String> inits = new HashSet<>();
        graph.graph().initializers().forEach(t -> inits.add(t.name()));
        RandomStream rs = new RandomStream(7, 0, 0);
        Map<String, TensorValue> m = new LinkedHashMap<>();
        for (ValueInfo v : graph.graph().inputs()) {
            String n = v.name();
            if (inits.contains(n)) {
                continue;
            }
            long[] dims = switch (family + "/" + n) {
                case "sd3/hidden_states" -> new long[] {1, 16, 8, 8};
                case "sd3/encoder_hidden_states" -> new long[] {1, 7, 80};
                case "sd3/pooled_projections" -> new long[] {1, 64};
                case "flux_dev/hidden_states" -> new long[] {1, 16, 64};
                case "flux_dev/encoder_hidden_states" -> new long[] {1, 5, 48};
                case "flux_dev/pooled_projections" -> new long[] {1, 24};
                case "flux_dev/img_ids" -> new long[] {16, 3};
                case "flux_dev/txt_ids" -> new long[] {5, 3};
                case "sdxl/sample" -> new long[] {1, 4, 8, 8};
                case "sdxl/encoder_hidden_states" -> new long[] {1, 7, 64};
                case "sdxl/text_embeds" -> new long[] {1, 40};
                case "sdxl/time_ids" -> new long[] {1, 6};
                case "sdxl/timestep" -> new long[] {};
                default -> new long[] {1};
            };
            int size = 1;
            for (long d : dims) {
                size *= (int) d;
            }
            if (v.elementType() == DataType.INT64) {
                long[] ids = new long[size];
                for (int i = 0; n.equals("img_ids") && i < size / 3; i++) {
                    ids[3 * i + 1] = i / 4;
                    ids[3 * i + 2] = i % 4;
                }
                m.put(n, TensorValue.ofLongs(n, ids, dims));
                continue;
            }
            float[] x = new float[size];
            for (int i = 0; i < size; i++) {
                x[i] = switch (n) {
                    case "timestep" -> family.equals("flux_dev") ? 0.6f : 600f;
                    case "guidance" -> 3.5f;
                    case "time_ids" -> new float[] {64, 64, 0, 0, 64, 64}[i];
                    default -> (float) rs.nextGaussian();
                };
            }
            m.put(n, TensorValue.ofFloats(n, x, dims));
        }
        return m;
    }

    static float[] out(OnnxModel model, Map<String, TensorValue> inputs) {
        return OrtOracle.run(model, inputs).values().iterator().next().toFloats();
    }

    static int[] bits(float[] a) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Float.floatToRawIntBits(a[i]);
        }
        return b;
    }

    static void assertSame(Map<String, Tensor> a, Map<String, Tensor> b) {
        assertThat(a.keySet()).isEqualTo(b.keySet());
        for (String k : a.keySet()) {
            assertThat(bits(a.get(k).toArray())).as(k).isEqualTo(bits(b.get(k).toArray()));
        }
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float x : a) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }

    static double maxDiff(float[] a, float[] b) {
        assertThat(a.length).isEqualTo(b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs((double) a[i] - b[i]));
        }
        return m;
    }
}
