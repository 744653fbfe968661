package io.senseflow.tf.importer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.tf.testing.Compare;
import io.senseflow.tf.testing.Float64FiniteDifferences;
import io.senseflow.tf.testing.OrtOracle;
import io.senseflow.tf.testing.TfRun;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Session;

/**
 * Every graph of the shared Optimum exports (denoisers, VAE decoders, text encoders) and the shared DINOv2 imports
 * as exported, frozen and trainable, with the fixtures' concrete shapes: one forward against the PyTorch reference
 * of the fixture and against ONNX Runtime, a second shape that is not a power of two against ONNX Runtime, and
 * gradients against float64 central finite differences.
 */
class RealGraphsImportTest {
    private static final double REL = 1e-4;

    /** One shared graph: its fixture case, its component folder, the reference outputs to compare. */
    record Family(String kase, String component) {
        @Override
        public String toString() {
            return kase + "/" + component;
        }
    }

    static final List<Family> FAMILIES = List.of(new Family("sd3", "transformer"), new Family("flux_dev", "transformer"),
            new Family("sdxl", "unet"), new Family("sd3", "vae_decoder"), new Family("flux_dev", "vae_decoder"),
            new Family("sdxl", "vae_decoder"), new Family("sd3", "text_encoder"), new Family("sd3", "text_encoder_2"),
            new Family("sd3", "text_encoder_3"), new Family("flux_dev", "text_encoder"),
            new Family("flux_dev", "text_encoder_2"), new Family("sdxl", "text_encoder"),
            new Family("sdxl", "text_encoder_2"));

    static OnnxModel model(Family f) {
        return OnnxModel.read(Fixtures.path("optimum-exports/" + f.kase() + "/onnx/" + f.component()).resolve("model.onnx"));
    }

    /** Reference arrays of a case whose name starts with {@code prefix}, keyed by the rest of the name. */
    static Map<String, TensorValue> reference(String kase, String prefix) {
        Map<String, TensorValue> m = new LinkedHashMap<>();
        Path file = Fixtures.path("optimum-exports/" + kase + "/reference").resolve("ref.safetensors");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String n : f.names()) {
                if (n.startsWith(prefix)) {
                    m.put(n.substring(prefix.length()), copy(n.substring(prefix.length()), f.tensorValue(n), null));
                }
            }
        }
        return m;
    }

    static TensorValue copy(String name, TensorValue t, long[] dims) {
        ByteBuffer b = t.bytes();
        ByteBuffer c = ByteBuffer.allocate(b.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        c.put(b.duplicate()).flip();
        return TensorValue.ofRaw(name, t.dataType(), c, dims == null ? t.dims() : dims);
    }

    /** The first denoiser / decoder / encoder call of the reference, shaped as the graph declares its inputs. */
    static Map<String, TensorValue> inputs(Family f, OnnxModel m) {
        Map<String, TensorValue> in = reference(f.kase(), f.component() + "/in/");
        for (ValueInfo v : m.graph().inputs()) {
            TensorValue t = in.get(v.name());
            if (t != null && v.shape() != null && v.shape().isEmpty() && t.dims().length != 0) {
                in.put(v.name(), copy(v.name(), t, new long[0])); // SDXL's rank-0 timestep, stored as [1]
            }
        }
        return in;
    }

    static boolean isFluxId(Family f, String input) {
        return f.kase().equals("flux_dev") && f.component().equals("transformer") && input.endsWith("_ids");
    }

    /** Concrete shapes from the inputs; FLUX's ids bound to constants (fixed per resolution). */
    static ImportOptions options(Family f, Map<String, TensorValue> in, boolean trainable) {
        ImportOptions.Builder b = ImportOptions.builder();
        in.forEach((k, v) -> {
            if (isFluxId(f, k)) {
                b.constantInput(k, v);
            } else {
                b.inputShape(k, v.dims());
            }
        });
        if (!trainable) {
            b.frozen();
        }
        return b.build();
    }

    /** max |a - b| / max |b| */
    static double relative(TensorValue want, TensorValue got) {
        assertThat(got.dims()).containsExactly(want.dims());
        double[] e = Compare.doubles(want);
        double[] a = Compare.doubles(got);
        double worst = 0;
        double scale = 0;
        for (int i = 0; i < e.length; i++) {
            assertThat(Double.isFinite(a[i])).as("finite").isTrue();
            worst = Math.max(worst, Math.abs(e[i] - a[i]));
            scale = Math.max(scale, Math.abs(e[i]));
        }
        return worst / Math.max(scale, 1e-30);
    }

    /** Imports, checks which variables are trainable, runs. */
    static Map<String, TensorValue> run(OnnxModel m, ImportOptions opts, Map<String, TensorValue> in, boolean trainable) {
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(m, opts).importInto(g, "m");
            if (trainable) {
                assertThat(ig.trainableVariables()).as("trainable variables").isNotEmpty();
            } else {
                assertThat(ig.trainableVariables()).as("trainable variables of a frozen import").isEmpty();
            }
            for (String k : opts.constantInputs().keySet()) {
                assertThat(ig.inputs()).as("inputs bound to constants have no placeholder").doesNotContainKey(k);
            }
            // without graph optimisers: they cost seconds on these graphs and change no value
            try (Session s = Float64FiniteDifferences.plainSession(g)) {
                ig.initializeVariables(s);
                return TfRun.run(s, ig, in, new ArrayList<>(ig.outputs().values()), new ArrayList<>(ig.outputs().keySet()));
            }
        }
    }

    @TestFactory
    Stream<DynamicTest> everySharedGraphImportsFrozenAndTrainableAndMatchesPyTorchAndOnnxRuntime() {
        return FAMILIES.stream().map(f -> DynamicTest.dynamicTest(f.toString(), () -> {
            OnnxModel m = model(f);
            Map<String, TensorValue> in = inputs(f, m);
            Map<String, TensorValue> want = reference(f.kase(), f.component() + "/out/");
            assertThat(want).isNotEmpty();
            Map<String, TensorValue> ort = OrtOracle.run(m, in);
            StringBuilder line = new StringBuilder("| " + f);
            for (boolean trainable : new boolean[] {false, true}) {
                Map<String, TensorValue> got = run(m, options(f, in, trainable), in, trainable);
                double worstRef = 0;
                double worstOrt = 0;
                for (Map.Entry<String, TensorValue> e : want.entrySet()) {
                    String o = e.getKey();
                    double dr = relative(e.getValue(), got.get(o));
                    double dOrt = relative(ort.get(o), got.get(o));
                    assertThat(dr).as(f + " " + o + " vs PyTorch (trainable " + trainable + ")").isLessThanOrEqualTo(REL);
                    assertThat(dOrt).as(f + " " + o + " vs ONNX Runtime (trainable " + trainable + ")").isLessThanOrEqualTo(REL);
                    worstRef = Math.max(worstRef, dr);
                    worstOrt = Math.max(worstOrt, dOrt);
                }
                line.append(String.format(" | %s: %.1e / %.1e", trainable ? "trainable" : "frozen", worstRef, worstOrt));
            }
            System.out.println(line + " | (relative max error vs PyTorch / vs ORT, outputs " + want.keySet() + ")");
        }));
    }

    // ------------------------------------------------------------------ a second shape, not a power of two

    /** The denoisers and decoders at 96x64 (latents 12x8, 24 packed FLUX tokens), against ONNX Runtime. */
    @TestFactory
    Stream<DynamicTest> denoisersAndDecodersAt96x64MatchOnnxRuntime() {
        return FAMILIES.stream().filter(f -> !f.component().startsWith("text_encoder"))
                .map(f -> DynamicTest.dynamicTest(f.toString(), () -> {
                    OnnxModel m = model(f);
                    Map<String, TensorValue> in = inputsAt96x64(f, m);
                    Map<String, TensorValue> ort = OrtOracle.run(m, in);
                    Map<String, TensorValue> got = run(m, options(f, in, false), in, false);
                    for (String o : ort.keySet()) {
                        double d = relative(ort.get(o), got.get(o));
                        System.out.printf("| %s 96x64 | %s | %.1e |%n", f, o, d);
                        assertThat(d).as(f + " " + o + " at 96x64 vs ONNX Runtime").isLessThanOrEqualTo(REL);
                    }
                }));
    }

    static Map<String, TensorValue> inputsAt96x64(Family f, OnnxModel m) {
        Map<String, TensorValue> first = inputs(f, m);
        Map<String, TensorValue> ref = reference(f.kase(), "");
        Map<String, TensorValue> in = new LinkedHashMap<>(first);
        switch (f.component()) {
            case "vae_decoder" -> in.put("latent_sample", ref.get("noise_96x64").withName("latent_sample"));
            case "unet", "transformer" -> {
                if (f.kase().equals("flux_dev")) {
                    in.put("hidden_states", ref.get("noise_packed_96x64").withName("hidden_states"));
                    long[] ids = new long[24 * 3];
                    for (int k = 0; k < 24; k++) {
                        ids[3 * k + 1] = k / 4; // packed grid 6 x 4: row, column
                        ids[3 * k + 2] = k % 4;
                    }
                    in.put("img_ids", TensorValue.ofLongs("img_ids", ids, 24, 3));
                } else {
                    String name = f.kase().equals("sdxl") ? "sample" : "hidden_states";
                    TensorValue noise = ref.get("noise_96x64");
                    long[] d = noise.dims();
                    float[] one = noise.toFloats();
                    float[] two = new float[one.length * 2];
                    System.arraycopy(one, 0, two, 0, one.length);
                    for (int i = 0; i < one.length; i++) {
                        two[one.length + i] = -0.5f * one[i];
                    }
                    in.put(name, TensorValue.ofFloats(name, two, 2, d[1], d[2], d[3]));
                    if (f.kase().equals("sdxl")) {
                        float[] t = {96, 64, 0, 0, 96, 64, 96, 64, 0, 0, 96, 64};
                        in.put("time_ids", TensorValue.ofFloats("time_ids", t, 2, 6));
                    }
                }
            }
            default -> throw new IllegalArgumentException(f.toString());
        }
        return in;
    }

    // ------------------------------------------------------------------ gradients

    @TestFactory
    Stream<DynamicTest> gradientsMatchFloat64FiniteDifferences() {
        List<Object[]> cases = List.of(
                new Object[] {new Family("sd3", "transformer"), "out_hidden_states",
                    List.of("hidden_states", "encoder_hidden_states", "pooled_projections")},
                new Object[] {new Family("flux_dev", "transformer"), "out_hidden_states",
                    List.of("hidden_states", "encoder_hidden_states", "pooled_projections")},
                new Object[] {new Family("sdxl", "unet"), "out_sample",
                    List.of("sample", "encoder_hidden_states", "text_embeds")},
                new Object[] {new Family("sd3", "vae_decoder"), "sample", List.of("latent_sample")});
        return cases.stream().map(c -> DynamicTest.dynamicTest(c[0].toString(), () -> {
            Family f = (Family) c[0];
            OnnxModel m = model(f);
            Map<String, TensorValue> in = inputs(f, m);
            @SuppressWarnings("unchecked")
            List<String> wrt = (List<String>) c[2];
            List<Float64FiniteDifferences.Target> res = Float64FiniteDifferences.check(m, options(f, in, true), in,
                    (String) c[1], wrt, 4, List.of(), 3);
            report(f.toString(), res);
        }));
    }

    static void report(String what, List<Float64FiniteDifferences.Target> res) {
        double w32 = 0;
        double w64 = 0;
        for (Float64FiniteDifferences.Target t : res) {
            System.out.printf("| %s | %s %s | float32 analytic %.1e | float64 analytic %.1e | max |FD| %.2e |%n", what,
                    t.parameter() ? "parameter" : "input", t.target(), t.float32Error(), t.float64Error(), t.scale());
            assertThat(t.scale()).as(what + " " + t.target() + ": a gradient that is not all zero").isGreaterThan(0);
            assertThat(t.float64Error()).as(what + " " + t.target() + " float64 analytic vs FD").isLessThan(1e-6);
            assertThat(t.float32Error()).as(what + " " + t.target() + " float32 analytic vs float64 FD").isLessThan(1e-3);
            w32 = Math.max(w32, t.float32Error());
            w64 = Math.max(w64, t.float64Error());
        }
        System.out.printf("| %s | worst | float32 %.1e | float64 %.1e |%n", what, w32, w64);
    }

    // ------------------------------------------------------------------ DINOv2

    static final String DINO = "vision-backbones/dinov2_small_random";

    static Map<String, TensorValue> dinoReference() {
        Map<String, TensorValue> m = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(Fixtures.path(DINO + "_reference.safetensors"))) {
            for (String n : f.names()) {
                m.put(n, copy(n, f.tensorValue(n), null));
            }
        }
        return m;
    }

    /** ONNX values of DINOv2's hidden states: the embedding output, then each block's output. */
    static final List<String> DINO_HIDDEN = List.of("/embeddings/Add_output_0", "/encoder/layer.0/Add_1_output_0",
            "/encoder/layer.1/Add_1_output_0", "/encoder/layer.2/Add_1_output_0");

    @Test
    void dinov2WithItsBicubicPositionInterpolationMatchesPyTorchAndOnnxRuntime() {
        OnnxModel m = OnnxModel.read(Fixtures.path(DINO + ".onnx"));
        Map<String, TensorValue> ref = dinoReference();
        TensorValue x = ref.get("in_pixel_values").withName("pixel_values");
        Map<String, TensorValue> in = Map.of("pixel_values", x);
        Map<String, TensorValue> ort = OrtOracle.run(m, in);
        for (boolean trainable : new boolean[] {false, true}) {
            ImportOptions.Builder b = ImportOptions.builder().inputShape("pixel_values", x.dims());
            List<String> outs = new ArrayList<>(List.of("last_hidden_state", "pooler_output"));
            outs.addAll(DINO_HIDDEN);
            b.outputs(outs.toArray(new String[0]));
            if (!trainable) {
                b.frozen();
            }
            Map<String, TensorValue> got = run(m, b.build(), in, trainable);
            double last = relative(ref.get("out_last_hidden_state"), got.get("last_hidden_state"));
            double pool = relative(ref.get("out_pooler_output"), got.get("pooler_output"));
            double lastOrt = relative(ort.get("last_hidden_state"), got.get("last_hidden_state"));
            System.out.printf("| dinov2 %s | last_hidden_state %.1e (ORT %.1e) | pooler %.1e |", trainable ? "trainable"
                    : "frozen", last, lastOrt, pool);
            assertThat(last).isLessThanOrEqualTo(REL);
            assertThat(pool).isLessThanOrEqualTo(REL);
            assertThat(lastOrt).isLessThanOrEqualTo(REL);
            for (int k = 0; k < DINO_HIDDEN.size(); k++) {
                double d = relative(ref.get("hidden_state_" + k), got.get(DINO_HIDDEN.get(k)));
                System.out.printf(" hidden_state_%d %.1e", k, d);
                assertThat(d).as("hidden_state_" + k).isLessThanOrEqualTo(REL);
            }
            System.out.println();
        }
    }

    @Test
    void dinov2InputAndPositionTableGradientsMatchFloat64FiniteDifferences() {
        OnnxModel m = OnnxModel.read(Fixtures.path(DINO + ".onnx"));
        TensorValue x = dinoReference().get("in_pixel_values").withName("pixel_values");
        ImportOptions opts = ImportOptions.builder().inputShape("pixel_values", x.dims()).build();
        // the position table (onnx::Reshape_457, its patch rows) reaches the output only through the bicubic Resize
        List<Float64FiniteDifferences.Target> res = Float64FiniteDifferences.check(m, opts, Map.of("pixel_values", x),
                "last_hidden_state", List.of("pixel_values"), 2, List.of("onnx::Reshape_457"), 4);
        report("dinov2", res);
    }

    // ------------------------------------------------------------------ symbolic dims, constant inputs, refusals

    @Test
    void clipTextWithASymbolicBatchFoldsItsShapeArithmeticAndRunsAtTwoBatchSizes() {
        Family f = new Family("sdxl", "text_encoder_2");
        OnnxModel m = model(f);
        TensorValue ids = inputs(f, m).get("input_ids");
        Map<String, TensorValue> want = reference(f.kase(), f.component() + "/out/");
        ImportOptions opts = ImportOptions.builder().inputShape("input_ids", -1, ids.dims()[1]).build();
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(m, opts).importInto(g, "clip");
            assertThat(ig.input("input_ids").shape().asArray()).containsExactly(-1, 77);
            try (Session s = new Session(g)) {
                ig.initializeVariables(s);
                for (int batch : new int[] {1, 3}) {
                    long[] one = ids.toLongs();
                    long[] many = new long[one.length * batch];
                    for (int b = 0; b < batch; b++) {
                        System.arraycopy(one, 0, many, b * one.length, one.length);
                    }
                    Map<String, TensorValue> got = TfRun.run(s, ig, Map.of("input_ids",
                            TensorValue.ofLongs("input_ids", many, batch, 77)), List.of(ig.output("last_hidden_state")),
                            List.of("h"));
                    float[] h = got.get("h").toFloats();
                    float[] row = want.get("last_hidden_state").toFloats();
                    float[] last = java.util.Arrays.copyOfRange(h, (batch - 1) * row.length, batch * row.length);
                    assertThat(relative(want.get("last_hidden_state"), TensorValue.ofFloats("h", last, 1, 77, 40)))
                            .as("batch " + batch).isLessThanOrEqualTo(REL);
                }
            }
        }
    }

    @Test
    void fluxIdsBoundToConstantsFoldTheRotaryTablesWithTheirNonZeroAndGatherND() {
        Family f = new Family("flux_dev", "transformer");
        OnnxModel m = model(f);
        Map<String, TensorValue> in = inputs(f, m);
        assertThat(m.graph().nodes().stream().filter(n -> n.opType().equals("NonZero")).count()).isEqualTo(6);
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(m, options(f, in, true)).importInto(g, "flux");
            assertThat(ig.inputs()).doesNotContainKeys("img_ids", "txt_ids");
            List<String> types = new ArrayList<>();
            g.operations().forEachRemaining(o -> types.add(((GraphOperation) o).type()));
            assertThat(types).as("NonZero (Where) and GatherND evaluated at import").doesNotContain("Where", "GatherNd");
        }
        // without the binding they are imported as ops and still agree with ONNX Runtime
        ImportOptions.Builder b = ImportOptions.builder();
        in.forEach((k, v) -> b.inputShape(k, v.dims()));
        Map<String, TensorValue> got = TfRun.run(m, b.frozen().build(), in);
        double d = relative(OrtOracle.run(m, in).get("out_hidden_states"), got.get("out_hidden_states"));
        assertThat(d).isLessThanOrEqualTo(REL);
    }

    @Test
    void aConstantBindingThatDoesNotFitTheInputIsRefused() {
        OnnxModel m = model(new Family("flux_dev", "transformer"));
        assertThatThrownBy(() -> new OnnxImporter(m, ImportOptions.builder()
                .constantInput("img_ids", TensorValue.ofFloats("x", new float[48], 16, 3)).build()))
                .isInstanceOf(OnnxImportException.class).hasMessageContaining("img_ids").hasMessageContaining("INT64")
                .hasMessageContaining("FLOAT");
        assertThatThrownBy(() -> new OnnxImporter(m, ImportOptions.builder()
                .constantInput("img_ids", TensorValue.ofLongs("x", new long[16], 16)).build()))
                .isInstanceOf(OnnxImportException.class).hasMessageContaining("img_ids").hasMessageContaining("[16]");
        assertThatThrownBy(() -> new OnnxImporter(m, ImportOptions.builder()
                .constantInput("no_such", TensorValue.ofLongs("x", new long[3], 3)).build()))
                .isInstanceOf(OnnxImportException.class).hasMessageContaining("no_such");
    }

    @Test
    void anEinsumWithADiagonalIsRefusedNamingTheNodeTheOpTheEquationAndTheFix() {
        io.senseflow.onnx.ir.GraphBuilder g = io.senseflow.onnx.ir.GraphBuilder.create("diag", 18);
        String x = g.input("x", DataType.FLOAT, io.senseflow.tf.testing.OpCase.d(3, 3));
        String y = g.op("Einsum").name("/blocks.0/Einsum_3").input(x).attr("equation", "ii->i").output();
        g.output(y, DataType.FLOAT, io.senseflow.tf.testing.OpCase.d(3));
        OnnxModel m = g.build();
        try (Graph tg = new Graph()) {
            assertThatThrownBy(() -> new OnnxImporter(m, ImportOptions.defaults()).importInto(tg, "m"))
                    .isInstanceOf(OnnxImportException.class).hasMessageContaining("Einsum")
                    .hasMessageContaining("/blocks.0/Einsum_3").hasMessageContaining("'ii->i'")
                    .hasMessageContaining("appears twice").hasMessageContaining("to make it importable");
        }
    }

    @Test
    void anUnsupportedOperatorIsRefusedNamingTheNodeAndWhatIsSupported() {
        io.senseflow.onnx.ir.GraphBuilder g = io.senseflow.onnx.ir.GraphBuilder.create("det", 18);
        String x = g.input("x", DataType.FLOAT, io.senseflow.tf.testing.OpCase.d(2, 16));
        String y = g.op("Det").name("/head/Det").input(g.reshape(x, 2, 4, 4)).output();
        g.output(y, DataType.FLOAT, io.senseflow.tf.testing.OpCase.d(2));
        OnnxModel m = g.build();
        try (Graph tg = new Graph()) {
            assertThatThrownBy(() -> new OnnxImporter(m, ImportOptions.defaults()).importInto(tg, "m"))
                    .isInstanceOf(UnsupportedOperatorException.class).hasMessageContaining("operator Det (opset 18)")
                    .hasMessageContaining("/head/Det").hasMessageContaining("supported: ")
                    .hasMessageContaining("Einsum");
        }
    }
}
