package io.senseflow.tf.importer;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.tensor.HalfPrecision;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfTensors;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;

/**
 * What TensorFlow Java 1.1.0's CPU kernels (oneDNN off, as the SDK runs them) compute in bfloat16: {@code MatMul}
 * (plain and with {@code transpose_b}), {@code BatchMatMulV2} with a broadcast operand and {@code Conv2D} (NHWC,
 * strided), forward and the gradients {@code Graph.addGradients} builds for both operands, with the float32 to
 * bfloat16 casts around them. Each is checked element by element against a Java double computation on the same
 * bfloat16-rounded inputs, on shapes that are not powers of two. The bound per element is {@code 2^-8 * sum |a_k b_k|}
 * (the sum of the magnitudes of the products that make it): a kernel that rounds its result once to bfloat16 (8
 * significant bits, relative error at most {@code 2^-9}) stays within half of it, a wrong or transposed result does not.
 * This test is what {@link ImportOptions.Builder#computeBfloat16} relies on: if a kernel it uses stops being registered
 * or starts computing wrong numbers, it fails here.
 */
class Bfloat16KernelsTest {
    /** bfloat16's unit roundoff: 8 significant bits, round to nearest */
    static final double UNIT = Math.scalb(1.0, -9);
    /** relative RMS error allowed: a few units of bfloat16 rounding; a wrong result is off by about 1 or more */
    static final double RMS_BOUND = 1e-2;

    /** a float32 placeholder fed with bfloat16-exact values and cast to bfloat16 in the graph */
    record In(String name, float[] values, long[] dims) {
    }

    static float[] bf16Values(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBfloat16((float) r.nextDouble(-2, 2)));
        }
        return v;
    }

    /** Builds op(x..) in bfloat16 and its gradients w.r.t. the float32 inputs; returns {y, dx0, dx1, ...} as floats. */
    interface Builder {
        Output<?> build(GraphOps o, List<Output<?>> bf16Inputs);
    }

    static List<float[]> run(Builder op, List<In> ins, In upstream) {
        try (Graph g = new Graph()) {
            GraphOps o = GraphOps.of(g, "probe");
            List<Output<?>> ph = new ArrayList<>();
            List<Output<?>> cast = new ArrayList<>();
            for (In in : ins) {
                Output<?> p = o.placeholder(DataType.DT_FLOAT, Shape.of(in.dims()), in.name());
                ph.add(p);
                cast.add(o.cast(p, DataType.DT_BFLOAT16));
            }
            Output<?> y16 = op.build(o, cast);
            assertThat(y16.dataType()).isEqualTo(DataType.DT_BFLOAT16);
            Output<?> y = o.cast(y16, DataType.DT_FLOAT);
            Output<?> dy = o.placeholder(DataType.DT_FLOAT, Shape.of(upstream.dims()), "dy");
            Output<?>[] grads = g.addGradients("grad", new Output<?>[] {y}, ph.toArray(new Output<?>[0]),
                    new Output<?>[] {dy});
            for (Output<?> gr : grads) {
                assertThat(gr.op()).as("a gradient exists").isNotNull();
                assertThat(gr.dataType()).isEqualTo(DataType.DT_FLOAT);
            }
            try (Session s = new Session(g)) {
                Session.Runner runner = s.runner();
                List<TFloat32> fed = new ArrayList<>();
                try {
                    for (int i = 0; i < ins.size(); i++) {
                        TFloat32 t = TFloat32.tensorOf(Shape.of(ins.get(i).dims()), DataBuffers.of(ins.get(i).values()));
                        fed.add(t);
                        runner.feed(ph.get(i), t);
                    }
                    TFloat32 u = TFloat32.tensorOf(Shape.of(upstream.dims()), DataBuffers.of(upstream.values()));
                    fed.add(u);
                    runner.feed(dy, u);
                    runner.fetch(y);
                    for (Output<?> gr : grads) {
                        runner.fetch(gr);
                    }
                    List<float[]> out = new ArrayList<>();
                    try (Result r = runner.run()) {
                        for (int k = 0; k <= grads.length; k++) {
                            out.add(TfTensors.floats(r.get(k)));
                        }
                    }
                    return out;
                } finally {
                    fed.forEach(TFloat32::close);
                }
            }
        }
    }

    /**
     * Asserts every element within {@code k * 2^-9 * mag} of the double reference (the worst case of summing {@code k}
     * exact products in bfloat16, unit roundoff {@code 2^-9}), and the relative RMS error below {@link #RMS_BOUND};
     * returns {relative RMS, largest error in units of {@code 2^-9 * mag}}: 1 or 2 for one rounding of the
     * result, up to {@code k} for a sum accumulated in bfloat16.
     */
    static double[] check(String what, float[] got, double[] ref, double[] mag, int k) {
        assertThat(got).as(what + " size").hasSize(ref.length);
        double d2 = 0;
        double r2 = 0;
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = got[i] - ref[i];
            assertThat(Math.abs(d)).as("%s element %d: got %s, double reference %s", what, i, got[i], ref[i])
                    .isLessThanOrEqualTo(k * UNIT * mag[i] + 1e-30);
            d2 += d * d;
            r2 += ref[i] * ref[i];
            if (mag[i] > 0) {
                worst = Math.max(worst, Math.abs(d) / (UNIT * mag[i]));
            }
        }
        assertThat(r2).as(what + " not all zero").isPositive();
        double rms = Math.sqrt(d2 / r2);
        assertThat(rms).as(what + " relative RMS error").isLessThan(RMS_BOUND);
        return new double[] {rms, worst};
    }

    /** y[m,n] = sum_k a[m,k] b[k,n] (b given as [n,k] when transposed); returns {y, |.|-sum} */
    static double[][] matmul(float[] a, float[] b, int m, int k, int n, boolean transB) {
        double[] y = new double[m * n];
        double[] mag = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                double s1 = 0;
                for (int q = 0; q < k; q++) {
                    double p = (double) a[i * k + q] * (transB ? b[j * k + q] : b[q * n + j]);
                    s += p;
                    s1 += Math.abs(p);
                }
                y[i * n + j] = s;
                mag[i * n + j] = s1;
            }
        }
        return new double[][] {y, mag};
    }

    static float[] transpose(float[] x, int rows, int cols) {
        float[] t = new float[x.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = x[i * cols + j];
            }
        }
        return t;
    }

    @Test
    void matMulAndItsGradientsRunInBfloat16() {
        SplittableRandom r = new SplittableRandom(17);
        int m = 37;
        int k = 53;
        int n = 29;
        float[] a = bf16Values(r, m * k);
        float[] b = bf16Values(r, k * n);
        float[] dy = bf16Values(r, m * n);
        for (boolean transB : new boolean[] {false, true}) {
            float[] bStored = transB ? transpose(b, k, n) : b;
            List<float[]> got = run((o, x) -> o.op("MatMul").in(x.get(0)).in(x.get(1)).attr("transpose_a", false)
                            .attr("transpose_b", transB).out(),
                    List.of(new In("a", a, new long[] {m, k}), new In("b", bStored, transB ? new long[] {n, k} : new long[] {k, n})),
                    new In("dy", dy, new long[] {m, n}));
            double[][] y = matmul(a, b, m, k, n, false);
            double[][] da = matmul(dy, b, m, n, k, true); // dy b^T
            double[][] db = matmul(transpose(a, m, k), dy, k, m, n, false); // a^T dy, [k, n]
            double[] ey = check("MatMul y", got.get(0), y[0], y[1], k);
            double[] ea = check("MatMul da", got.get(1), da[0], da[1], n);
            float[] dbGot = transB ? transpose(got.get(2), n, k) : got.get(2);
            double[] eb = check("MatMul db", dbGot, db[0], db[1], m);
            System.out.printf(Locale.ROOT, "bf16 MatMul %dx%d @ %dx%d%s: relative RMS (worst error / (2^-9 sum|ab|))"
                    + " y %.2e (%.1f), da %.2e (%.1f), db %.2e (%.1f)%n", m, k,
                    k, n, transB ? " (transpose_b)" : "", ey[0], ey[1], ea[0], ea[1], eb[0], eb[1]);
        }
    }

    @Test
    void batchMatMulWithABroadcastOperandAndItsGradientsRunInBfloat16() {
        SplittableRandom r = new SplittableRandom(18);
        int batch = 3;
        int m = 37;
        int k = 53;
        int n = 29;
        float[] a = bf16Values(r, batch * m * k);
        float[] b = bf16Values(r, k * n); // [1, k, n], broadcast over the batch
        float[] dy = bf16Values(r, batch * m * n);
        List<float[]> got = run((o, x) -> o.binary("BatchMatMulV2", x.get(0), x.get(1)),
                List.of(new In("a", a, new long[] {batch, m, k}), new In("b", b, new long[] {1, k, n})),
                new In("dy", dy, new long[] {batch, m, n}));
        double[] y = new double[batch * m * n];
        double[] ym = new double[y.length];
        double[] da = new double[batch * m * k];
        double[] dam = new double[da.length];
        double[] db = new double[k * n];
        double[] dbm = new double[db.length];
        for (int t = 0; t < batch; t++) {
            float[] at = java.util.Arrays.copyOfRange(a, t * m * k, (t + 1) * m * k);
            float[] dyt = java.util.Arrays.copyOfRange(dy, t * m * n, (t + 1) * m * n);
            double[][] yt = matmul(at, b, m, k, n, false);
            double[][] dat = matmul(dyt, b, m, n, k, true);
            double[][] dbt = matmul(transpose(at, m, k), dyt, k, m, n, false);
            System.arraycopy(yt[0], 0, y, t * m * n, m * n);
            System.arraycopy(yt[1], 0, ym, t * m * n, m * n);
            System.arraycopy(dat[0], 0, da, t * m * k, m * k);
            System.arraycopy(dat[1], 0, dam, t * m * k, m * k);
            for (int i = 0; i < db.length; i++) {
                db[i] += dbt[0][i]; // the broadcast operand's gradient sums over the batch
                dbm[i] += dbt[1][i];
            }
        }
        double[] ey = check("BatchMatMulV2 y", got.get(0), y, ym, k);
        double[] ea = check("BatchMatMulV2 da", got.get(1), da, dam, n);
        double[] eb = check("BatchMatMulV2 db (summed over the broadcast batch)", got.get(2), db, dbm, batch * m);
        System.out.printf(Locale.ROOT, "bf16 BatchMatMulV2 %dx%dx%d @ 1x%dx%d: relative RMS (worst error /"
                + " (2^-9 sum|ab|)) y %.2e (%.1f), da %.2e (%.1f), db %.2e (%.1f)%n",
                batch, m, k, k, n, ey[0], ey[1], ea[0], ea[1], eb[0], eb[1]);
    }

    @Test
    void conv2dAndItsGradientsRunInBfloat16() {
        SplittableRandom r = new SplittableRandom(19);
        int nb = 2;
        int h = 9;
        int w = 11;
        int ci = 5;
        int kh = 3;
        int kw = 3;
        int co = 7;
        int stride = 2;
        int oh = (h - kh) / stride + 1;
        int ow = (w - kw) / stride + 1;
        float[] x = bf16Values(r, nb * h * w * ci);
        float[] f = bf16Values(r, kh * kw * ci * co);
        float[] dy = bf16Values(r, nb * oh * ow * co);
        List<float[]> got = run((o, in) -> o.op("Conv2D").in(in.get(0)).in(in.get(1))
                        .attr("strides", new long[] {1, stride, stride, 1}).attr("padding", "VALID")
                        .attr("data_format", "NHWC").out(),
                List.of(new In("x", x, new long[] {nb, h, w, ci}), new In("f", f, new long[] {kh, kw, ci, co})),
                new In("dy", dy, new long[] {nb, oh, ow, co}));
        double[] y = new double[nb * oh * ow * co];
        double[] ym = new double[y.length];
        double[] dx = new double[x.length];
        double[] dxm = new double[x.length];
        double[] df = new double[f.length];
        double[] dfm = new double[f.length];
        for (int b = 0; b < nb; b++) {
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    for (int c = 0; c < co; c++) {
                        int yi = ((b * oh + i) * ow + j) * co + c;
                        for (int p = 0; p < kh; p++) {
                            for (int q = 0; q < kw; q++) {
                                for (int d = 0; d < ci; d++) {
                                    int xi = ((b * h + i * stride + p) * w + j * stride + q) * ci + d;
                                    int fi = ((p * kw + q) * ci + d) * co + c;
                                    double prod = (double) x[xi] * f[fi];
                                    y[yi] += prod;
                                    ym[yi] += Math.abs(prod);
                                    dx[xi] += (double) dy[yi] * f[fi];
                                    dxm[xi] += Math.abs((double) dy[yi] * f[fi]);
                                    df[fi] += (double) dy[yi] * x[xi];
                                    dfm[fi] += Math.abs((double) dy[yi] * x[xi]);
                                }
                            }
                        }
                    }
                }
            }
        }
        double[] ey = check("Conv2D y", got.get(0), y, ym, kh * kw * ci);
        double[] ex = check("Conv2D dx (Conv2DBackpropInput)", got.get(1), dx, dxm, kh * kw * co);
        double[] ef = check("Conv2D df (Conv2DBackpropFilter)", got.get(2), df, dfm, nb * oh * ow);
        System.out.printf(Locale.ROOT, "bf16 Conv2D NHWC %dx%dx%dx%d * %dx%dx%dx%d stride %d: relative RMS (worst error / (2^-9"
                + " sum|ab|)) y %.2e (%.1f), dx %.2e (%.1f), df %.2e (%.1f)%n", nb, h, w, ci, kh, kw, ci, co, stride, ey[0], ey[1],
                ex[0], ex[1], ef[0], ef[1]);
    }
}
