package io.senseflow.tf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.types.TFloat32;

/**
 * A small, fast check that TensorFlow computes correct numbers on this machine, run before the first workspace
 * with given session settings is used (once per process and settings).
 *
 * <p>Engines pick CPU-specific kernels at run time, so a kernel bug shows on some machines only, deterministically
 * and silently. Two were measured on an AMD EPYC (AVX-512) with oneDNN enabled: Grappler's fusion of
 * {@code MatMul(transpose_b)} and a bias with a constant weight, whose oneDNN reorder zeroed part of the last output
 * block when the width was not a multiple of 32 (64 from 64 up); and the backward pass of a small 3x3 convolution
 * (48 to 32 channels on a 4x4 map). The probes rebuild exactly those patterns — constant-weight
 * {@code MatMul(transpose_b)+BiasAdd} at widths 40, 48, 80, 96 and 100, and a 3x3 convolution with its input and
 * filter gradients — run them in a session with the caller's settings (threads, graph optimizations), and compare
 * every value with a reference computed in Java in double precision. A probe whose largest relative error (scaled by
 * the reference's largest magnitude) exceeds {@value #TOLERANCE} fails with an {@link EngineCheckException} naming
 * the probe, the CPU, the error and the workaround.
 *
 * <p>The probes cost tens of milliseconds; {@link Report#nanos()} says how long they took. Thread-safe.
 */
public final class EngineSelfCheck {

    /** Largest accepted error of a probe, relative to the largest magnitude of its reference. */
    public static final double TOLERANCE = 1e-4;

    /** The environment variable TensorFlow reads, at start-up only, to switch oneDNN kernels on or off. */
    public static final String ONEDNN_VARIABLE = "TF_ENABLE_ONEDNN_OPTS";

    /**
     * A system property that, set to {@code true}, allows oneDNN for every workspace of the process, as
     * {@link TfSessionOptions#withOneDnnAllowed(boolean)} does for one: for probing kernels on a new CPU.
     */
    public static final String ALLOW_ONEDNN_PROPERTY = "senseflow.tf.allowOneDnn";

    static final int[] MATMUL_WIDTHS = {40, 48, 80, 96, 100};
    private static final int MATMUL_ROWS = 7;
    private static final int MATMUL_DEPTH = 36;
    private static final int CONV_BATCH = 2;
    private static final int CONV_SIZE = 4;
    private static final int CONV_IN = 48;
    private static final int CONV_OUT = 32;

    private static final Map<TfSessionOptions, Report> PASSED = new ConcurrentHashMap<>();

    private EngineSelfCheck() {
    }

    /**
     * The outcome of one probe.
     *
     * @param name the operation and shapes probed
     * @param maxError the largest error, relative to the reference's largest magnitude
     * @param passed whether it is within {@link #TOLERANCE}
     */
    public record Probe(String name, double maxError, boolean passed) {
    }

    /**
     * What a self-check found.
     *
     * @param probes every probe in the order run
     * @param nanos wall time of building and running the probes
     * @param cpu the CPU, as {@link #cpuDescription()} gives it
     * @param oneDnnEnabled whether oneDNN was enabled in this process's environment
     */
    public record Report(List<Probe> probes, long nanos, String cpu, boolean oneDnnEnabled) {
        public Report {
            probes = List.copyOf(probes);
        }

        /** @return whether every probe passed */
        public boolean passed() {
            return probes.stream().allMatch(Probe::passed);
        }
    }

    /** Changes probe outputs before they are compared: lets tests plant a wrong kernel result. */
    @FunctionalInterface
    interface Tamper {
        Tamper NONE = (probe, values) -> { };

        void apply(String probe, float[] values);
    }

    /**
     * Whether oneDNN is enabled in this process: TensorFlow enables it on x86-64 Linux unless
     * {@value #ONEDNN_VARIABLE} is {@code 0} (or {@code false}) in the environment the JVM started with. Setting a
     * Java system property does not change it.
     *
     * @return whether TensorFlow in this process uses oneDNN kernels
     */
    public static boolean oneDnnEnabled() {
        String v = System.getenv(ONEDNN_VARIABLE);
        if (v == null) {
            return true;
        }
        String s = v.strip().toLowerCase(Locale.ROOT);
        return !(s.equals("0") || s.equals("false"));
    }

    /**
     * Runs the probes once per process and settings and throws if one fails; later calls with the same settings
     * return the first passing report.
     *
     * @param options the session settings the workspace will run with
     * @return the passing report
     * @throws EngineCheckException if a probe disagrees with the Java reference
     */
    public static Report ensure(TfSessionOptions options) {
        Report cached = PASSED.get(options);
        if (cached != null) {
            return cached;
        }
        Report r = run(options, Tamper.NONE);
        throwIfFailed(r);
        PASSED.putIfAbsent(options, r);
        return r;
    }

    /**
     * Runs the probes and reports, without throwing on a mismatch.
     *
     * @param options the session settings to probe
     * @return what every probe found
     */
    public static Report run(TfSessionOptions options) {
        return run(options, Tamper.NONE);
    }

    static void throwIfFailed(Report r) {
        for (Probe p : r.probes()) {
            if (!p.passed()) {
                throw new EngineCheckException(p.name(), String.format(Locale.ROOT,
                        "TensorFlow computed wrong values on this CPU (%s) in the engine self-check probe '%s': "
                                + "largest error %.3g relative to the reference, expected at most %.0e; oneDNN is %s. "
                                + "Workaround: start the JVM with %s=0 in its environment (the senseflow launcher "
                                + "and the Maven test configuration do this); TensorFlow reads it only at start-up.",
                        r.cpu(), p.name(), p.maxError(), TOLERANCE, r.oneDnnEnabled() ? "enabled" : "disabled",
                        ONEDNN_VARIABLE));
            }
        }
    }

    static Report run(TfSessionOptions options, Tamper tamper) {
        long t0 = System.nanoTime();
        List<Probe> probes = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(20261206L);
        try (Graph g = new Graph()) {
            Ops tf = Ops.create(g);
            // fused MatMul(transpose_b) + BiasAdd with constant weights
            float[] x = normals(rnd, MATMUL_ROWS * MATMUL_DEPTH);
            Placeholder<TFloat32> xIn = tf.placeholder(TFloat32.class,
                    Placeholder.shape(Shape.of(MATMUL_ROWS, MATMUL_DEPTH)));
            List<Output<TFloat32>> mm = new ArrayList<>();
            List<float[]> mmRef = new ArrayList<>();
            for (int n : MATMUL_WIDTHS) {
                float[] w = normals(rnd, n * MATMUL_DEPTH);
                float[] b = normals(rnd, n);
                var wc = tf.constant(Shape.of(n, MATMUL_DEPTH), DataBuffers.of(w, true, false));
                var bc = tf.constant(Shape.of(n), DataBuffers.of(b, true, false));
                mm.add(tf.nn.biasAdd(tf.linalg.matMul(xIn, wc, MatMul.transposeB(true)), bc).output());
                mmRef.add(matMulTransposedBias(x, w, b, MATMUL_ROWS, MATMUL_DEPTH, n));
            }
            // 3x3 convolution (input already padded by one), its input and filter gradients
            int p = CONV_SIZE + 2;
            float[] cx = normals(rnd, CONV_BATCH * p * p * CONV_IN);
            float[] cw = normals(rnd, 9 * CONV_IN * CONV_OUT);
            float[] cu = normals(rnd, CONV_BATCH * CONV_SIZE * CONV_SIZE * CONV_OUT);
            Placeholder<TFloat32> cxIn = tf.placeholder(TFloat32.class,
                    Placeholder.shape(Shape.of(CONV_BATCH, p, p, CONV_IN)));
            Placeholder<TFloat32> cwIn = tf.placeholder(TFloat32.class,
                    Placeholder.shape(Shape.of(3, 3, CONV_IN, CONV_OUT)));
            var conv = tf.nn.conv2d(cxIn, cwIn, List.of(1L, 1L, 1L, 1L), "VALID");
            var uc = tf.constant(Shape.of(CONV_BATCH, CONV_SIZE, CONV_SIZE, CONV_OUT), DataBuffers.of(cu, true, false));
            var loss = tf.reduceSum(tf.math.mul(conv, uc), tf.constant(new int[] {0, 1, 2, 3}));
            Output<?>[] grads = g.addGradients("engine_check_grad", new Output<?>[] {loss.asOutput()},
                    new Output<?>[] {cxIn.asOutput(), cwIn.asOutput()}, null);
            ConvReference ref = convReference(cx, cw, cu, CONV_BATCH, p, CONV_IN, CONV_OUT);

            try (Session s = new Session(g, options.toProto());
                 TFloat32 xt = TFloat32.tensorOf(Shape.of(MATMUL_ROWS, MATMUL_DEPTH), DataBuffers.of(x, true, false));
                 TFloat32 cxt = TFloat32.tensorOf(Shape.of(CONV_BATCH, p, p, CONV_IN), DataBuffers.of(cx, true, false));
                 TFloat32 cwt = TFloat32.tensorOf(Shape.of(3, 3, CONV_IN, CONV_OUT),
                         DataBuffers.of(cw, true, false))) {
                Session.Runner runner = s.runner().feed(xIn, xt).feed(cxIn, cxt).feed(cwIn, cwt);
                mm.forEach(runner::fetch);
                runner.fetch(conv).fetch(grads[0]).fetch(grads[1]);
                try (Result out = runner.run()) {
                    for (int k = 0; k < MATMUL_WIDTHS.length; k++) {
                        String name = "MatMul(transpose_b)+BiasAdd, constant weight [" + MATMUL_WIDTHS[k] + "x"
                                + MATMUL_DEPTH + "], " + MATMUL_ROWS + " rows";
                        probes.add(compare(name, values(out.get(k)), mmRef.get(k), tamper));
                    }
                    int base = MATMUL_WIDTHS.length;
                    String conv3 = "3x3 Conv2D " + CONV_IN + "->" + CONV_OUT + " channels on " + CONV_SIZE + "x"
                            + CONV_SIZE;
                    probes.add(compare(conv3 + ", forward", values(out.get(base)), ref.y, tamper));
                    probes.add(compare(conv3 + ", input gradient", values(out.get(base + 1)), ref.dx, tamper));
                    probes.add(compare(conv3 + ", filter gradient", values(out.get(base + 2)), ref.dw, tamper));
                }
            }
        }
        return new Report(probes, System.nanoTime() - t0, cpuDescription(), oneDnnEnabled());
    }

    private static float[] values(org.tensorflow.Tensor t) {
        TFloat32 f = (TFloat32) t;
        float[] v = new float[(int) f.shape().size()];
        f.asRawTensor().data().asFloats().read(v);
        return v;
    }

    private static Probe compare(String name, float[] got, float[] want, Tamper tamper) {
        tamper.apply(name, got);
        double scale = 0;
        for (float w : want) {
            scale = Math.max(scale, Math.abs(w));
        }
        double err = got.length == want.length ? 0 : Double.POSITIVE_INFINITY;
        for (int i = 0; i < Math.min(got.length, want.length); i++) {
            double e = Math.abs((double) got[i] - want[i]);
            err = Math.max(err, Double.isNaN(e) ? Double.POSITIVE_INFINITY : e);
        }
        double rel = err / Math.max(scale, 1e-30);
        return new Probe(name, rel, rel <= TOLERANCE);
    }

    private static float[] normals(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble(-1, 1) + r.nextDouble(-1, 1));
        }
        return v;
    }

    static float[] matMulTransposedBias(float[] x, float[] w, float[] b, int rows, int depth, int n) {
        float[] y = new float[rows * n];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < n; j++) {
                double acc = b[j];
                for (int k = 0; k < depth; k++) {
                    acc += (double) x[i * depth + k] * w[j * depth + k];
                }
                y[i * n + j] = (float) acc;
            }
        }
        return y;
    }

    private record ConvReference(float[] y, float[] dx, float[] dw) {
    }

    /** NHWC input [b, p, p, cin] (p = size + 2), HWIO filter [3, 3, cin, cout], VALID, upstream u [b, size, size, cout]. */
    private static ConvReference convReference(float[] x, float[] w, float[] u, int batch, int p, int cin, int cout) {
        int s = p - 2;
        double[] y = new double[batch * s * s * cout];
        double[] dx = new double[x.length];
        double[] dw = new double[w.length];
        for (int n = 0; n < batch; n++) {
            for (int i = 0; i < s; i++) {
                for (int j = 0; j < s; j++) {
                    int yo = ((n * s + i) * s + j) * cout;
                    for (int di = 0; di < 3; di++) {
                        for (int dj = 0; dj < 3; dj++) {
                            int xo = ((n * p + i + di) * p + j + dj) * cin;
                            int wo = (di * 3 + dj) * cin * cout;
                            for (int c = 0; c < cin; c++) {
                                double xv = x[xo + c];
                                int wr = wo + c * cout;
                                for (int o = 0; o < cout; o++) {
                                    y[yo + o] += xv * w[wr + o];
                                    dx[xo + c] += (double) w[wr + o] * u[yo + o];
                                    dw[wr + o] += xv * u[yo + o];
                                }
                            }
                        }
                    }
                }
            }
        }
        return new ConvReference(toFloats(y), toFloats(dx), toFloats(dw));
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    /**
     * @return the CPU model and its vector extensions as Linux reports them (e.g. {@code "AMD EPYC (x86_64;
     *     avx2 avx512f)"}), or the JVM's architecture name where {@code /proc/cpuinfo} cannot be read
     */
    public static String cpuDescription() {
        String arch = System.getProperty("os.arch", "?");
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/cpuinfo"));
            String model = null;
            String flags = "";
            for (String l : lines) {
                if (model == null && l.startsWith("model name")) {
                    model = l.substring(l.indexOf(':') + 1).strip();
                } else if (flags.isEmpty() && l.startsWith("flags")) {
                    flags = " " + l.substring(l.indexOf(':') + 1).strip() + " ";
                }
            }
            StringBuilder ext = new StringBuilder();
            for (String f : new String[] {"avx2", "avx512f", "avx512_bf16", "amx_tile"}) {
                if (flags.contains(" " + f + " ")) {
                    ext.append(ext.length() == 0 ? "" : " ").append(f);
                }
            }
            return (model == null ? "unknown CPU" : model) + " (" + arch + (ext.length() == 0 ? "" : "; " + ext) + ")";
        } catch (IOException | RuntimeException e) {
            return "unknown CPU (" + arch + ")";
        }
    }
}
