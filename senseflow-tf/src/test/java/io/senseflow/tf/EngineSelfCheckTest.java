package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.importer.ImportedGraph;
import io.senseflow.tf.importer.OnnxImporter;
import io.senseflow.tf.testing.Compare;
import io.senseflow.tf.testing.OrtOracle;
import io.senseflow.tf.testing.TfRun;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Session;

/**
 * The engine self-check and the oneDNN policy: the probes pass here (the tests run with oneDNN off), a planted
 * wrong kernel result is caught and named, a process with oneDNN on is refused, and the kernel patterns that were
 * wrong on an AMD EPYC agree with ONNX Runtime through frozen and trainable imports.
 */
class EngineSelfCheckTest {

    @Test
    void probesPassWithTheSessionSettingsOfTheSuiteAndReportTheirCost() {
        assertThat(EngineSelfCheck.oneDnnEnabled()).as("surefire runs TensorFlow with TF_ENABLE_ONEDNN_OPTS=0").isFalse();
        for (TfSessionOptions o : List.of(TfSessionOptions.defaults(), TfSessionOptions.defaults()
                .withGraphOptimizations(false), TfSessionOptions.defaults().withIntraOpThreads(1))) {
            EngineSelfCheck.Report r = EngineSelfCheck.run(o);
            assertThat(r.probes()).hasSize(EngineSelfCheck.MATMUL_WIDTHS.length + 3);
            assertThat(r.passed()).as(r.toString()).isTrue();
            assertThat(r.probes()).allSatisfy(p -> assertThat(p.maxError()).isLessThan(1e-5));
            System.out.printf("engine self-check (%s): %d probes in %.1f ms on %s%n", o, r.probes().size(),
                    r.nanos() / 1e6, r.cpu());
        }
        assertThat(EngineSelfCheck.ensure(TfSessionOptions.defaults()).passed()).isTrue();
    }

    @Test
    void aPlantedWrongMatMulBlockIsCaughtAndNamed() {
        // what oneDNN's reorder did: 8 of every 16 entries of the last partial output block zeroed, in each row
        EngineSelfCheck.Report r = EngineSelfCheck.run(TfSessionOptions.defaults(), (probe, v) -> {
            if (probe.contains("[40x")) {
                int width = 40;
                for (int row = 0; row < v.length / width; row++) {
                    for (int j = 32; j < 40; j++) {
                        v[row * width + j] = 0;
                    }
                }
            }
        });
        assertThat(r.passed()).isFalse();
        assertThat(r.probes().stream().filter(p -> !p.passed()).map(EngineSelfCheck.Probe::name))
                .singleElement().asString().contains("MatMul(transpose_b)+BiasAdd").contains("[40x36]");
        assertThatThrownBy(() -> EngineSelfCheck.throwIfFailed(r)).isInstanceOf(EngineCheckException.class)
                .hasMessageContaining("MatMul(transpose_b)+BiasAdd, constant weight [40x36]")
                .hasMessageContaining(EngineSelfCheck.cpuDescription())
                .hasMessageContaining("TF_ENABLE_ONEDNN_OPTS=0")
                .satisfies(e -> assertThat(((EngineCheckException) e).probe()).contains("[40x36]"));
    }

    @Test
    void aPlantedWrongConvolutionGradientIsCaught() {
        EngineSelfCheck.Report r = EngineSelfCheck.run(TfSessionOptions.defaults(), (probe, v) -> {
            if (probe.endsWith("filter gradient")) {
                v[v.length / 2] *= 1.01f;
            }
        });
        assertThat(r.probes()).filteredOn(p -> !p.passed()).singleElement()
                .satisfies(p -> assertThat(p.name()).isEqualTo("3x3 Conv2D 48->32 channels on 4x4, filter gradient"));
    }

    /** A child JVM with oneDNN on: the workspace refuses to start, naming the variable and the fix. */
    @Test
    void aProcessWithOneDnnOnIsRefusedUnlessAllowed() throws Exception {
        String out = runChild("1", "refuse");
        assertThat(out).contains("REFUSED io.senseflow.tf.EngineCheckException probe=TF_ENABLE_ONEDNN_OPTS")
                .contains("is '1', expected 0").contains("withOneDnnAllowed(true)");
        String unset = runChild(null, "refuse");
        assertThat(unset).contains("REFUSED").contains("is unset");
        // allowed: the self-check decides. On CPUs whose oneDNN kernels are right every probe passes; on the AMD
        // EPYC where they were wrong, the check fails naming the probe. Either way the child says which.
        String allowed = runChild("1", "allow");
        assertThat(allowed).containsAnyOf("STARTED", "PROBE-FAILED io.senseflow.tf.EngineCheckException");
        System.out.println("child JVM, oneDNN on and allowed: " + allowed.strip());
    }

    /** The patterns that were wrong on an AMD EPYC, through the importer (frozen: constant weights), vs ORT. */
    @Test
    void linearLayersOfAwkwardWidthsAgreeWithOnnxRuntimeFrozenAndTrainable() {
        SplittableRandom r = new SplittableRandom(5);
        for (int width : new int[] {40, 48, 80, 96}) {
            for (boolean gemm : new boolean[] {true, false}) {
                GraphBuilder g = GraphBuilder.create("linear" + width);
                String x = g.input("x", DataType.FLOAT, Dim.of(5), Dim.of(3), Dim.of(36));
                float[] w = new float[width * 36];
                float[] b = new float[width];
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) r.nextDouble(-1, 1);
                }
                for (int i = 0; i < b.length; i++) {
                    b[i] = (float) r.nextDouble(-1, 1);
                }
                String y;
                if (gemm) { // torch's 2-D nn.Linear: Gemm(transB=1)
                    String x2 = g.reshape(x, 15, 36);
                    y = g.gemm(x2, g.initializer("weight", w, width, 36), g.initializer("bias", b, width), 1f, 1f,
                            false, true);
                } else { // torch's 3-D nn.Linear: MatMul by the transposed weight, then Add
                    y = g.add(g.matMul(x, g.transpose(g.initializer("weight", w, width, 36), 1, 0)),
                            g.initializer("bias", b, width));
                }
                if (gemm) {
                    g.output(y, "y", DataType.FLOAT, Dim.of(15), Dim.of(width));
                } else {
                    g.output(y, "y", DataType.FLOAT, Dim.of(5), Dim.of(3), Dim.of(width));
                }
                OnnxModel m = g.build();
                float[] xv = new float[5 * 3 * 36];
                for (int i = 0; i < xv.length; i++) {
                    xv[i] = (float) r.nextDouble(-2, 2);
                }
                Map<String, TensorValue> in = Map.of("x", TensorValue.ofFloats("x", xv, 5, 3, 36));
                TensorValue want = OrtOracle.run(m, in).get("y");
                for (ImportOptions opts : List.of(ImportOptions.builder().frozen().build(), ImportOptions.defaults())) {
                    TensorValue got = runWithSuiteSettings(m, opts, in).get("y");
                    Compare.assertClose((gemm ? "Gemm" : "MatMul+Add") + " width " + width + " " + opts, want, got,
                            1e-5, 1e-5);
                }
            }
        }
    }

    private static Map<String, TensorValue> runWithSuiteSettings(OnnxModel m, ImportOptions opts,
                                                                 Map<String, TensorValue> in) {
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(m, opts).importInto(g, "m");
            try (Session s = new Session(g, TfSessionOptions.defaults().toProto())) {
                ig.initializeVariables(s);
                return TfRun.run(s, ig, in, new ArrayList<>(ig.outputs().values()),
                        new ArrayList<>(ig.outputs().keySet()));
            }
        }
    }

    private static String runChild(String oneDnn, String mode) throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                OneDnnChild.class.getName(), mode).redirectErrorStream(true);
        if (oneDnn == null) {
            pb.environment().remove(EngineSelfCheck.ONEDNN_VARIABLE);
        } else {
            pb.environment().put(EngineSelfCheck.ONEDNN_VARIABLE, oneDnn);
        }
        pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "3");
        Process p = pb.start();
        try {
            byte[] bytes = p.getInputStream().readAllBytes();
            assertThat(p.waitFor(120, TimeUnit.SECONDS)).as("child ended").isTrue();
            String out = new String(bytes, StandardCharsets.UTF_8);
            assertThat(p.exitValue()).as(out).isZero();
            return out;
        } finally {
            p.destroyForcibly();
        }
    }

    /** The child process of {@link #aProcessWithOneDnnOnIsRefusedUnlessAllowed()}. */
    public static final class OneDnnChild {
        public static void main(String[] args) {
            TfSessionOptions o = TfSessionOptions.defaults().withOneDnnAllowed("allow".equals(args[0]));
            try (TfWorkspace ws = TfWorkspace.create(o)) {
                System.out.println("STARTED " + ws.options());
            } catch (EngineCheckException e) {
                String tag = e.probe().equals(EngineSelfCheck.ONEDNN_VARIABLE) ? "REFUSED" : "PROBE-FAILED";
                System.out.println(tag + " " + e.getClass().getName() + " probe=" + e.probe() + " " + e.getMessage());
            }
        }
    }
}
