package io.senseflow.onnx.ir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.tensor.HalfPrecision;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Graphs written by the builder are accepted by ONNX Runtime and compute what plain Java computes. */
class OrtExecutionTest {
    private static final float TOL = 1e-5f;

    static float[] random(long seed, int n) {
        Random r = new Random(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) r.nextGaussian();
        }
        return f;
    }

    /** y[m][n] = sum_k a[m][k] * b[k][n]. */
    static float[] matmul(float[] a, float[] b, int m, int k, int n) {
        float[] y = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) {
                    s += (double) a[i * k + t] * b[t * n + j];
                }
                y[i * n + j] = (float) s;
            }
        }
        return y;
    }

    static float[] softmaxRows(float[] x, int cols) {
        float[] y = new float[x.length];
        for (int r = 0; r < x.length / cols; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                max = Math.max(max, x[r * cols + c]);
            }
            double sum = 0;
            for (int c = 0; c < cols; c++) {
                sum += Math.exp(x[r * cols + c] - max);
            }
            for (int c = 0; c < cols; c++) {
                y[r * cols + c] = (float) (Math.exp(x[r * cols + c] - max) / sum);
            }
        }
        return y;
    }

    @Test
    void gemmWithTransposedWeightAndSoftmax() {
        float[] w = random(1, 3 * 4); // [out=3, in=4], as PyTorch's Linear stores it
        float[] b = random(2, 3);
        GraphBuilder g = GraphBuilder.create("linear_softmax");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(4));
        String y = g.gemm(x, g.initializer("fc.weight", w, 3, 4), g.initializer("fc.bias", b, 3), 1f, 1f, false, true);
        g.output(g.softmax(y, -1), "probs", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        OnnxModel model = g.build();

        float[] in = random(3, 2 * 4);
        Map<String, Ort.Out> out = Ort.run(model, Map.of("x", Ort.In.floats(in, 2, 4)));
        float[] wt = new float[12];
        for (int o = 0; o < 3; o++) {
            for (int i = 0; i < 4; i++) {
                wt[i * 3 + o] = w[o * 4 + i];
            }
        }
        float[] logits = matmul(in, wt, 2, 4, 3);
        for (int i = 0; i < logits.length; i++) {
            logits[i] += b[i % 3];
        }
        assertThat(out.get("probs").shape()).containsExactly(2, 3);
        assertThat(out.get("probs").floats()).containsExactly(softmaxRows(logits, 3), within(TOL));
    }

    @Test
    void batchedMatMulAddSoftmaxWithSymbolicDims() {
        float[] w = random(4, 4 * 3);
        float[] b = random(5, 3);
        GraphBuilder g = GraphBuilder.create("attention_like");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.symbolic("seq"), Dim.of(4));
        String y = g.inScope("proj", () -> g.add(g.matMul(x, g.initializer("weight", w, 4, 3)), g.initializer("bias", b, 3)));
        g.output(g.softmax(y, -1), "p", DataType.FLOAT, Dim.symbolic("batch"), Dim.symbolic("seq"), Dim.of(3));
        OnnxModel model = g.build();
        assertThat(model.graph().initializer("proj.weight")).isPresent();

        for (int batch : new int[] {1, 3}) {
            float[] in = random(6 + batch, batch * 5 * 4);
            float[] expected = matmul(in, w, batch * 5, 4, 3);
            for (int i = 0; i < expected.length; i++) {
                expected[i] += b[i % 3];
            }
            Ort.Out out = Ort.run(model, Map.of("x", Ort.In.floats(in, batch, 5, 4))).get("p");
            assertThat(out.shape()).containsExactly(batch, 5, 3);
            assertThat(out.floats()).containsExactly(softmaxRows(expected, 3), within(TOL));
        }
    }

    /** Naive NCHW convolution with symmetric padding. */
    static float[] conv2d(float[] x, int c, int h, int wd, float[] w, int m, int k, float[] bias, int stride, int pad,
                          int groups) {
        int oh = (h + 2 * pad - k) / stride + 1;
        int ow = (wd + 2 * pad - k) / stride + 1;
        int cg = c / groups;
        int mg = m / groups;
        float[] y = new float[m * oh * ow];
        for (int o = 0; o < m; o++) {
            int grp = o / mg;
            for (int i = 0; i < oh; i++) {
                for (int j = 0; j < ow; j++) {
                    double s = bias == null ? 0 : bias[o];
                    for (int ci = 0; ci < cg; ci++) {
                        for (int u = 0; u < k; u++) {
                            for (int v = 0; v < k; v++) {
                                int yy = i * stride - pad + u;
                                int xx = j * stride - pad + v;
                                if (yy >= 0 && yy < h && xx >= 0 && xx < wd) {
                                    s += (double) x[((grp * cg + ci) * h + yy) * wd + xx] * w[((o * cg + ci) * k + u) * k + v];
                                }
                            }
                        }
                    }
                    y[(o * oh + i) * ow + j] = (float) s;
                }
            }
        }
        return y;
    }

    @Test
    void convolutionsWithStridePaddingAndGroups() {
        float[] w = random(10, 4 * 2 * 3 * 3);
        float[] b = random(11, 4);
        float[] dw = random(12, 4 * 1 * 3 * 3);
        GraphBuilder g = GraphBuilder.create("convs");
        String x = g.input("x", DataType.FLOAT, Dim.of(1), Dim.of(2), Dim.of(5), Dim.of(5));
        String y = g.conv(x, g.initializer("conv.weight", w, 4, 2, 3, 3), g.initializer("conv.bias", b, 4),
                ConvOptions.of2d(2, 1));
        String z = g.conv(y, g.initializer("dw.weight", dw, 4, 1, 3, 3), null,
                ConvOptions.defaults().withPads(1, 1, 1, 1).withGroup(4));
        g.output(y, DataType.FLOAT, Dim.of(1), Dim.of(4), Dim.of(3), Dim.of(3));
        g.output(z, "z", DataType.FLOAT, Dim.of(1), Dim.of(4), Dim.of(3), Dim.of(3));
        OnnxModel model = g.build();

        float[] in = random(13, 2 * 5 * 5);
        Map<String, Ort.Out> out = Ort.run(model, Map.of("x", Ort.In.floats(in, 1, 2, 5, 5)));
        float[] ey = conv2d(in, 2, 5, 5, w, 4, 3, b, 2, 1, 1);
        float[] ez = conv2d(ey, 4, 3, 3, dw, 4, 3, null, 1, 1, 4);
        assertThat(out.get(y).floats()).containsExactly(ey, within(1e-4f));
        assertThat(out.get("z").floats()).containsExactly(ez, within(1e-4f));
    }

    @Test
    void halfPrecisionInitializersInRawAndTypedStorage() {
        float[] w = random(20, 4 * 3);
        GraphBuilder g = GraphBuilder.create("fp16_weights");
        String x = g.input("x", DataType.FLOAT, Dim.of(2), Dim.of(4));
        String wh = g.initializer(TensorValue.ofFloat16("w_f16", w, 4, 3));
        String wt = g.initializer(TensorValue.ofFloat16("w_f16_typed", w, 4, 3).withStorage(TensorValue.Storage.TYPED));
        String wb = g.initializer(TensorValue.ofBfloat16("w_bf16", w, 4, 3));
        g.output(g.matMul(x, g.cast(wh, DataType.FLOAT)), "a", DataType.FLOAT, Dim.of(2), Dim.of(3));
        g.output(g.matMul(x, g.cast(wt, DataType.FLOAT)), "b", DataType.FLOAT, Dim.of(2), Dim.of(3));
        g.output(g.matMul(x, g.cast(wb, DataType.FLOAT)), "c", DataType.FLOAT, Dim.of(2), Dim.of(3));
        // an fp16 computation end to end
        String xh = g.cast(x, DataType.FLOAT16);
        g.output(g.cast(g.matMul(xh, wh), DataType.FLOAT), "d", DataType.FLOAT, Dim.of(2), Dim.of(3));
        OnnxModel model = OnnxModel.parse(g.build().toByteArray(), "fp16");

        float[] in = random(21, 8);
        Map<String, Ort.Out> out = Ort.run(model, Map.of("x", Ort.In.floats(in, 2, 4)));
        float[] expectedHalf = matmul(in, HalfPrecision.float16ToFloat(HalfPrecision.floatToFloat16(w)), 2, 4, 3);
        float[] expectedBf = matmul(in, HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBfloat16(w)), 2, 4, 3);
        assertThat(out.get("a").floats()).containsExactly(expectedHalf, within(TOL));
        assertThat(out.get("b").floats()).containsExactly(out.get("a").floats());
        assertThat(out.get("c").floats()).containsExactly(expectedBf, within(TOL));
        assertThat(out.get("d").floats()).containsExactly(expectedHalf, within(1e-2f));
    }

    @Test
    void typedStorageOfEveryCommonTypeRunsLikeRaw() {
        float[] w = random(30, 6);
        for (TensorValue.Storage storage : TensorValue.Storage.values()) {
            if (storage == TensorValue.Storage.EXTERNAL) {
                continue;
            }
            GraphBuilder g = GraphBuilder.create("typed");
            String x = g.input("x", DataType.FLOAT, Dim.of(6));
            String wv = g.initializer(TensorValue.ofFloats("w", w, 6).withStorage(storage));
            String shape = g.initializer(TensorValue.ofLongs("shape", new long[] {2, 3}, 2).withStorage(storage));
            String d = g.initializer(TensorValue.ofDoubles("d", new double[] {0.5}, 1).withStorage(storage));
            String i32 = g.initializer(TensorValue.ofInts("i32", new int[] {-2}, 1).withStorage(storage));
            String flag = g.initializer(TensorValue.ofBooleans("flag", new boolean[] {true, false, true}, 3).withStorage(storage));
            String sum = g.add(g.add(g.mul(x, wv), g.cast(d, DataType.FLOAT)), g.cast(i32, DataType.FLOAT));
            String m = g.reshape(sum, shape);
            g.output(g.where(flag, m, g.neg(m)), "y", DataType.FLOAT, Dim.of(2), Dim.of(3));
            float[] in = random(31, 6);
            float[] out = Ort.run(g.build(), Map.of("x", Ort.In.floats(in, 6))).get("y").floats();
            for (int i = 0; i < 6; i++) {
                float v = in[i] * w[i] + 0.5f - 2f;
                assertThat(out[i]).as(storage + " " + i).isCloseTo(i % 3 == 1 ? -v : v, within(TOL));
            }
        }
    }

    @Test
    void shapeAndElementwiseHelpersMatchJava() {
        float[] xv = random(40, 2 * 3 * 4);
        float[] scale = random(41, 4);
        float[] bias = random(42, 4);
        GraphBuilder g = GraphBuilder.create("zoo");
        String x = g.input("x", DataType.FLOAT, Dim.of(2), Dim.of(3), Dim.of(4));
        Map<String, String> o = new java.util.LinkedHashMap<>();
        o.put("transpose", g.transpose(x, 0, 2, 1));
        o.put("reshape", g.reshape(x, 2, -1));
        o.put("concat", g.concat(1, x, x));
        String[] parts = g.split(x, 2, 1, 3);
        o.put("split0", parts[0]);
        o.put("split1", parts[1]);
        o.put("slice", g.slice(x, new long[] {1}, new long[] {3}, new long[] {2}, null));
        o.put("slice_step", g.slice(x, new long[] {0, 3}, new long[] {2, 0}, new long[] {1, 2}, new long[] {1, -2}));
        o.put("gather", g.gather(x, g.longVector(2, 0), 1));
        o.put("squeeze", g.squeeze(g.unsqueeze(x, 0), 0));
        o.put("flatten", g.flatten(x, 2));
        o.put("reduce_mean", g.reduceMean(x, true, -1));
        o.put("reduce_sum", g.reduceSum(x, false, 1));
        o.put("reduce_max", g.reduceMax(x, false));
        o.put("layer_norm", g.layerNormalization(x, g.initializer("ln.weight", scale, 4), g.initializer("ln.bias", bias, 4), -1, 1e-5f));
        o.put("gelu", g.gelu(x));
        o.put("silu", g.silu(x));
        o.put("tanh", g.tanh(x));
        o.put("relu", g.relu(x));
        o.put("where_abs", g.where(g.greater(x, g.floatScalar(0f)), x, g.neg(x)));
        o.put("arith", g.div(g.sub(g.pow(x, g.floatScalar(2f)), g.floatScalar(1f)), g.add(g.sqrt(g.abs(x)), g.floatScalar(1f))));
        o.put("fill", g.constantOfShape(g.shape(x), 2.5f));
        o.put("expand", g.expand(g.floatVector(1, 2, 3, 4), g.shape(x)));
        o.put("minmax", g.min(g.max(x, g.floatScalar(-0.5f)), g.floatScalar(0.5f)));
        o.put("exp_log", g.log(g.exp(x)));
        o.put("trig", g.add(g.mul(g.sin(x), g.sin(x)), g.mul(g.cos(x), g.cos(x))));
        o.put("recip", g.reciprocal(g.add(g.abs(x), g.floatScalar(1f))));
        o.put("cast", g.cast(x, DataType.INT64));
        o.put("logic", g.cast(g.and(g.not(g.less(x, g.floatScalar(0f))), g.or(g.equal(x, x), g.equal(x, x))), DataType.FLOAT));
        for (Map.Entry<String, String> e : o.entrySet()) {
            g.output(ValueInfo.unknownShape(e.getValue(), e.getKey().equals("cast") ? DataType.INT64 : DataType.FLOAT));
        }
        Map<String, Ort.Out> out = Ort.run(g.build(), Map.of("x", Ort.In.floats(xv, 2, 3, 4)));
        java.util.function.Function<String, Ort.Out> r = k -> out.get(o.get(k));

        java.util.function.IntFunction<Float> at = i -> xv[i];
        // x[b][c][w] = xv[(b * 3 + c) * 4 + w]
        float[] transpose = new float[24];
        for (int b = 0; b < 2; b++) {
            for (int c = 0; c < 3; c++) {
                for (int w = 0; w < 4; w++) {
                    transpose[(b * 4 + w) * 3 + c] = xv[(b * 3 + c) * 4 + w];
                }
            }
        }
        assertThat(r.apply("transpose").shape()).containsExactly(2, 4, 3);
        assertThat(r.apply("transpose").floats()).containsExactly(transpose);
        assertThat(r.apply("reshape").shape()).containsExactly(2, 12);
        assertThat(r.apply("reshape").floats()).containsExactly(xv);
        assertThat(r.apply("concat").shape()).containsExactly(2, 6, 4);
        assertThat(java.util.Arrays.copyOfRange(r.apply("concat").floats(), 12, 24)).containsExactly(java.util.Arrays.copyOfRange(xv, 0, 12));
        assertThat(r.apply("split0").shape()).containsExactly(2, 3, 1);
        assertThat(r.apply("split1").shape()).containsExactly(2, 3, 3);
        assertThat(r.apply("split0").floats()[1]).isEqualTo(xv[4]);
        assertThat(r.apply("split1").floats()[0]).isEqualTo(xv[1]);
        assertThat(r.apply("slice").shape()).containsExactly(2, 3, 2);
        assertThat(r.apply("slice").floats()[0]).isEqualTo(xv[1]);
        assertThat(r.apply("slice").floats()[1]).isEqualTo(xv[2]);
        assertThat(r.apply("slice_step").shape()).containsExactly(2, 2, 2);
        assertThat(r.apply("slice_step").floats()).startsWith(xv[3], xv[1], xv[7], xv[5]);
        assertThat(r.apply("gather").shape()).containsExactly(2, 2, 4);
        assertThat(java.util.Arrays.copyOfRange(r.apply("gather").floats(), 0, 8)).containsExactly(
                xv[8], xv[9], xv[10], xv[11], xv[0], xv[1], xv[2], xv[3]);
        assertThat(r.apply("squeeze").floats()).containsExactly(xv);
        assertThat(r.apply("flatten").shape()).containsExactly(6, 4);

        float[] mean = new float[6];
        float[] max = {Float.NEGATIVE_INFINITY};
        float[] sum = new float[8];
        float[] ln = new float[24];
        for (int row = 0; row < 6; row++) {
            double m = 0;
            for (int w = 0; w < 4; w++) {
                m += xv[row * 4 + w];
                max[0] = Math.max(max[0], xv[row * 4 + w]);
                sum[(row / 3) * 4 + w] += xv[row * 4 + w];
            }
            m /= 4;
            mean[row] = (float) m;
            double v = 0;
            for (int w = 0; w < 4; w++) {
                v += (xv[row * 4 + w] - m) * (xv[row * 4 + w] - m);
            }
            v /= 4;
            for (int w = 0; w < 4; w++) {
                ln[row * 4 + w] = (float) ((xv[row * 4 + w] - m) / Math.sqrt(v + 1e-5) * scale[w] + bias[w]);
            }
        }
        assertThat(r.apply("reduce_mean").shape()).containsExactly(2, 3, 1);
        assertThat(r.apply("reduce_mean").floats()).containsExactly(mean, within(TOL));
        assertThat(r.apply("reduce_sum").shape()).containsExactly(2, 4);
        assertThat(r.apply("reduce_sum").floats()).containsExactly(sum, within(TOL));
        assertThat(r.apply("reduce_max").shape()).isEmpty();
        assertThat(r.apply("reduce_max").floats()).containsExactly(max[0]);
        assertThat(r.apply("layer_norm").floats()).containsExactly(ln, within(1e-4f));

        for (int i = 0; i < 24; i++) {
            double v = at.apply(i);
            assertThat(r.apply("gelu").floats()[i]).isCloseTo((float) (0.5 * v * (1 + erf(v / Math.sqrt(2)))), within(1e-5f));
            assertThat(r.apply("silu").floats()[i]).isCloseTo((float) (v / (1 + Math.exp(-v))), within(TOL));
            assertThat(r.apply("tanh").floats()[i]).isCloseTo((float) Math.tanh(v), within(TOL));
            assertThat(r.apply("relu").floats()[i]).isEqualTo((float) Math.max(v, 0));
            assertThat(r.apply("where_abs").floats()[i]).isEqualTo((float) Math.abs(v));
            assertThat(r.apply("arith").floats()[i]).isCloseTo((float) ((v * v - 1) / (Math.sqrt(Math.abs(v)) + 1)), within(TOL));
            assertThat(r.apply("fill").floats()[i]).isEqualTo(2.5f);
            assertThat(r.apply("expand").floats()[i]).isEqualTo((float) (i % 4 + 1));
            assertThat(r.apply("minmax").floats()[i]).isEqualTo((float) Math.min(Math.max(v, -0.5), 0.5));
            assertThat(r.apply("exp_log").floats()[i]).isCloseTo((float) v, within(TOL));
            assertThat(r.apply("trig").floats()[i]).isCloseTo(1f, within(TOL));
            assertThat(r.apply("recip").floats()[i]).isCloseTo((float) (1 / (Math.abs(v) + 1)), within(TOL));
            assertThat(r.apply("cast").longs()[i]).isEqualTo((long) v);
            assertThat(r.apply("logic").floats()[i]).isEqualTo(v >= 0 ? 1f : 0f);
        }
    }

    /** Abramowitz-Stegun 7.1.26 is too coarse for 1e-5; use the series / continued fraction via erfc. */
    static double erf(double x) {
        // high-precision erf by Taylor series for |x| < 3 (inputs here are standard normal samples)
        double sum = 0;
        double term = x;
        for (int n = 0; n < 100; n++) {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    @Test
    void reduceAxesFollowTheOpset() {
        for (long opset : new long[] {13, 17, 18, 21}) {
            GraphBuilder g = GraphBuilder.create("reduce", opset);
            String x = g.input("x", DataType.FLOAT, Dim.of(2), Dim.of(3));
            g.output(g.reduceMean(x, false, 1), "m", DataType.FLOAT, Dim.of(2));
            OnnxModel model = g.build();
            OnnxNode reduce = model.graph().nodes("ReduceMean").get(0);
            assertThat(reduce.inputs()).hasSize(opset >= 18 ? 2 : 1);
            assertThat(reduce.attribute("axes").isPresent()).isEqualTo(opset < 18);
            assertThat(model.irVersion()).isEqualTo(GraphBuilder.irVersionFor(opset));
            float[] out = Ort.run(model, Map.of("x", Ort.In.floats(new float[] {1, 2, 3, 4, 5, 6}, 2, 3))).get("m").floats();
            assertThat(out).as("opset " + opset).containsExactly(2f, 5f);
        }
    }

    @Test
    void subgraphsRunAsIfBranches() {
        GraphBuilder g = GraphBuilder.create("branching");
        String x = g.input("x", DataType.FLOAT, Dim.of(3));
        String positive = g.greater(g.reduceSum(x, false), g.floatScalar(0f));
        GraphBuilder then = g.subgraph("then");
        then.output(then.mul(x, then.floatScalar(2f)), DataType.FLOAT, Dim.of(3)); // uses the outer x
        GraphBuilder otherwise = g.subgraph("else");
        otherwise.output(otherwise.neg(x), DataType.FLOAT, Dim.of(3));
        String y = g.op("If").input(positive).attr("then_branch", then.buildGraph()).attr("else_branch", otherwise.buildGraph())
                .output();
        g.output(y, "y", DataType.FLOAT, Dim.of(3));
        OnnxModel model = g.build();
        assertThat(Ort.run(model, Map.of("x", Ort.In.floats(new float[] {1, 2, -1}, 3))).get("y").floats())
                .containsExactly(2, 4, -2);
        assertThat(Ort.run(model, Map.of("x", Ort.In.floats(new float[] {1, -2, -1}, 3))).get("y").floats())
                .containsExactly(-1, 2, 1);
    }
}
