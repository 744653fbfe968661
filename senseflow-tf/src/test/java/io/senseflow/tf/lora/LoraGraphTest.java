package io.senseflow.tf.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxAttribute;
import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.OpsetImport;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.UnknownFields;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.testing.OrtOracle;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link LoraGraph} on a small graph with odd sizes: {@code y1 = x W1 + b1} (MatMul, W1 5 x 7),
 * {@code y = 0.5 h W2^T + c} (Gemm with transB, W2 3 x 7), and a weight W3 read by a MatMul and by an Add (not a
 * target). Against a Java double reference: the adapter graph in ONNX Runtime and its merge both compute
 * {@code x (W + (alpha/r) A B)}; with the initial adapters the adapter graph gives the base graph's bits.
 */
class LoraGraphTest {
    static final float[] X = values(1, 2 * 5);
    static final float[] W1 = values(2, 5 * 7);
    static final float[] B1 = values(3, 7);
    static final float[] W2 = values(4, 3 * 7);
    static final float[] C = values(5, 3);
    static final float[] W3 = values(6, 3 * 3);

    static float[] values(int seed, int n) {
        RandomStream r = new RandomStream(seed, 0, 0);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return v;
    }

    static OnnxModel graph() {
        List<OnnxNode> nodes = List.of(
                new OnnxNode("MatMul", List.of("x", "W1"), List.of("xw"), "/block/proj_in/MatMul", "", List.of()),
                new OnnxNode("Add", List.of("xw", "b1"), List.of("h"), "/block/proj_in/Add", "", List.of()),
                new OnnxNode("Gemm", List.of("h", "W2", "c"), List.of("g"), "/block/attn/to_out/Gemm", "", List.of(
                        OnnxAttribute.ofFloat("alpha", 0.5f), OnnxAttribute.ofInt("transB", 1))),
                new OnnxNode("MatMul", List.of("g", "W3"), List.of("m"), "/block/mix/MatMul", "", List.of()),
                new OnnxNode("Add", List.of("m", "W3_row"), List.of("y"), "/block/mix/Add", "", List.of()),
                new OnnxNode("Add", List.of("W3", "W3"), List.of("W3_twice"), "/unused/Add", "", List.of()),
                new OnnxNode("ReduceSum", List.of("W3_twice"), List.of("W3_row"), "/block/mix/ReduceSum", "",
                        List.of(OnnxAttribute.ofInt("keepdims", 0))));
        List<TensorValue> inits = List.of(TensorValue.ofFloats("W1", W1, 5, 7), TensorValue.ofFloats("b1", B1, 7),
                TensorValue.ofFloats("W2", W2, 3, 7), TensorValue.ofFloats("c", C, 3),
                TensorValue.ofFloats("W3", W3, 3, 3));
        OnnxGraph g = OnnxGraph.of("lora-test", nodes, inits,
                List.of(ValueInfo.tensor("x", DataType.FLOAT, Dim.of(2), Dim.of(5))),
                List.of(ValueInfo.tensor("y", DataType.FLOAT, Dim.of(2), Dim.of(3))));
        return new OnnxModel(8, List.of(new OpsetImport("", 17)), "test", "", "", 0, "", g, Map.of(),
                UnknownFields.EMPTY);
    }

    /** The graph in double: adapters by weight name (down, up) or none. */
    static double[] reference(Map<String, Tensor> a, double scale) {
        double[] w1 = effective(W1, 5, 7, false, a.get("W1.lora_down"), a.get("W1.lora_up"), scale);
        double[] w2 = effective(W2, 3, 7, true, a.get("W2.lora_down"), a.get("W2.lora_up"), scale);
        double[] y = new double[2 * 3];
        for (int n = 0; n < 2; n++) {
            double[] h = new double[7];
            for (int j = 0; j < 7; j++) {
                h[j] = B1[j];
                for (int i = 0; i < 5; i++) {
                    h[j] += X[n * 5 + i] * w1[i * 7 + j];
                }
            }
            double[] g = new double[3];
            for (int o = 0; o < 3; o++) {
                g[o] = C[o];
                for (int j = 0; j < 7; j++) {
                    g[o] += 0.5 * h[j] * w2[o * 7 + j];
                }
            }
            double all = 0; // ReduceSum without axes: every element of W3 + W3
            for (float w : W3) {
                all += 2.0 * w;
            }
            for (int k = 0; k < 3; k++) {
                y[n * 3 + k] = all;
                for (int o = 0; o < 3; o++) {
                    y[n * 3 + k] += g[o] * W3[o * 3 + k];
                }
            }
        }
        return y;
    }

    static double[] effective(float[] w, int rows, int cols, boolean transposed, Tensor down, Tensor up, double s) {
        double[] e = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            e[i] = w[i];
        }
        if (down == null) {
            return e;
        }
        int in = transposed ? cols : rows;
        int out = transposed ? rows : cols;
        int r = down.shape()[1];
        float[] a = down.toArray();
        float[] b = up.toArray();
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                double d = 0;
                for (int k = 0; k < r; k++) {
                    d += (double) a[i * r + k] * b[k * out + o];
                }
                e[transposed ? o * in + i : i * out + o] += s * d;
            }
        }
        return e;
    }

    static Map<String, TensorValue> input() {
        return Map.of("x", TensorValue.ofFloats("x", X, 2, 5));
    }

    static float[] ort(OnnxModel m, boolean optimise) {
        return OrtOracle.run(m, input(), optimise).get("y").toFloats();
    }

    @Test
    void targetsStartAsTheBaseAndMergeEqualsTheAdapterForm() {
        LoraGraph l = LoraGraph.of(graph(), LoraConfig.rank(2).alpha(3).build(), 42);
        assertThat(l.targets()).extracting(LoraGraph.Target::weight).containsExactly("W1", "W2");
        LoraGraph.Target w2 = l.targets().get(1);
        assertThat(w2.transposed()).isTrue();
        assertThat(w2.in()).isEqualTo(7);
        assertThat(w2.out()).isEqualTo(3);
        assertThat(w2.nodeAlpha()).isEqualTo(0.5f);
        assertThat(l.adapterParameters()).isEqualTo(2 * (5 + 7) + 2 * (7 + 3));

        // initial adapters: up = 0, the adapter graph computes the base's bits (ONNX Runtime without rewrites)
        Map<String, Tensor> init = l.initialAdapters();
        assertThat(init.get("W1.lora_up").toArray()).containsOnly(0f);
        assertThat(init.get("W1.lora_down").toArray()).doesNotContain(0f);
        float[] base = ort(graph(), false);
        float[] start = ort(l.model(), false);
        for (int i = 0; i < base.length; i++) {
            assertThat(Float.floatToRawIntBits(start[i])).isEqualTo(Float.floatToRawIntBits(base[i]));
        }

        // trained-like adapters: the adapter form, the merge and the double reference agree
        Map<String, Tensor> trained = new LinkedHashMap<>();
        int seed = 100;
        for (Map.Entry<String, Tensor> e : init.entrySet()) {
            float[] v = values(seed++, e.getValue().size());
            trained.put(e.getKey(), Tensor.wrap(v, e.getValue().shape()));
        }
        double[] want = reference(trained, 1.5);
        double[] plain = reference(Map.of(), 1.5);
        float[] adapterForm = ort(l.withAdapters(trained), true);
        OnnxModel merged = l.merge(trained);
        assertThat(merged.graph().nodes()).isEqualTo(graph().graph().nodes());
        float[] mergedForm = ort(merged, true);
        double moved = 0;
        for (int i = 0; i < want.length; i++) {
            assertThat((double) adapterForm[i]).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-4));
            assertThat((double) mergedForm[i]).isCloseTo(adapterForm[i], org.assertj.core.data.Offset.offset(1e-5));
            moved = Math.max(moved, Math.abs(want[i] - plain[i]));
        }
        assertThat(moved).as("the adapters change the output").isGreaterThan(0.1);
        // W3 also feeds a non-projection: never adapted, unchanged by the merge
        assertThat(merged.graph().initializer("W3")).isEqualTo(graph().graph().initializer("W3"));
    }

    @Test
    void selectionByPatternShapeAndOpType() {
        assertThat(LoraGraph.of(graph(), LoraConfig.rank(1).targets("attn").build(), 0).targets())
                .extracting(LoraGraph.Target::weight).containsExactly("W2");
        assertThat(LoraGraph.of(graph(), LoraConfig.rank(1).targets("^W1$").build(), 0).targets())
                .extracting(LoraGraph.Target::weight).containsExactly("W1");
        assertThat(LoraGraph.of(graph(), LoraConfig.rank(1).weightShape(5, 7).build(), 0).targets())
                .extracting(LoraGraph.Target::weight).containsExactly("W1");
        assertThat(LoraGraph.of(graph(), LoraConfig.rank(1).opTypes("Gemm").build(), 0).targets())
                .extracting(LoraGraph.Target::weight).containsExactly("W2");
    }

    @Test
    void aRankAboveATargetsSmallerSideIsAFullRankAdapter() {
        LoraGraph l = LoraGraph.of(graph(), LoraConfig.rank(6).build(), 0);
        assertThat(l.adapterParameters()).isEqualTo(6 * (5 + 7) + 6 * (7 + 3));
        Map<String, Tensor> a = new LinkedHashMap<>();
        int seed = 200;
        for (Map.Entry<String, Tensor> e : l.initialAdapters().entrySet()) {
            a.put(e.getKey(), Tensor.wrap(values(seed++, e.getValue().size()), e.getValue().shape()));
        }
        double[] want = reference(a, 1.0);
        float[] merged = ort(l.merge(a), true);
        for (int i = 0; i < want.length; i++) {
            assertThat((double) merged[i]).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-4));
        }
    }

    @Test
    void seededAndDeterministic() {
        LoraConfig c = LoraConfig.rank(2).build();
        Map<String, Tensor> a = LoraGraph.of(graph(), c, 7).initialAdapters();
        Map<String, Tensor> b = LoraGraph.of(graph(), c, 7).initialAdapters();
        Map<String, Tensor> other = LoraGraph.of(graph(), c, 8).initialAdapters();
        Map<String, Tensor> fixed = LoraGraph.of(graph(), c.toBuilder().seed(7).build(), 99).initialAdapters();
        assertThat(a.get("W1.lora_down").toArray()).containsExactly(b.get("W1.lora_down").toArray());
        assertThat(a.get("W1.lora_down").toArray()).containsExactly(fixed.get("W1.lora_down").toArray());
        assertThat(a.get("W1.lora_down").toArray()).isNotEqualTo(other.get("W1.lora_down").toArray());
        float bound = (float) (1 / Math.sqrt(5));
        for (float v : a.get("W1.lora_down").toArray()) {
            assertThat(Math.abs(v)).isLessThan(bound);
        }
        assertThat(LoraConfig.fromJson(c.toBuilder().targets("attn").weightShape(5, 7).build().toJson()))
                .isEqualTo(c.toBuilder().targets("attn").weightShape(5, 7).build());
    }

    @Test
    void badSettingsAreRefusedNamingTheField() {
        assertThatThrownBy(() -> LoraConfig.rank(0)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("lora rank");
        assertThatThrownBy(() -> LoraConfig.rank(2).alpha(-1)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("lora alpha");
        assertThatThrownBy(() -> LoraConfig.rank(2).targets("(")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("lora targets");
        assertThatThrownBy(() -> LoraConfig.rank(2).opTypes("Conv")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("MatMul or Gemm");
        assertThatThrownBy(() -> LoraGraph.of(graph(), LoraConfig.rank(1).targets("nothing").build(), 0))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("at least one MatMul or Gemm");
        LoraGraph l = LoraGraph.of(graph(), LoraConfig.rank(2).build(), 0);
        Map<String, Tensor> missing = new LinkedHashMap<>(l.initialAdapters());
        missing.remove("W2.lora_up");
        assertThatThrownBy(() -> l.merge(missing)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("W2.lora_up");
        Map<String, Tensor> misshapen = new LinkedHashMap<>(l.initialAdapters());
        misshapen.put("W1.lora_up", Tensor.zeros(7, 2));
        assertThatThrownBy(() -> l.withAdapters(misshapen)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("shape [2, 7]");
    }

    @Test
    void aWeightReadThroughATransposeIsAdaptedInItsStoredOrientation() {
        float[] wt = values(9, 4 * 5); // stored out x in, read as Transpose(W) by the MatMul: y = x W^T
        OnnxGraph g = OnnxGraph.of("transposed", List.of(
                        new OnnxNode("Transpose", List.of("W"), List.of("Wt"), "/proj/Transpose", "", List.of(
                                OnnxAttribute.ofInts("perm", 1, 0))),
                        new OnnxNode("MatMul", List.of("x", "Wt"), List.of("y"), "/proj/MatMul", "", List.of())),
                List.of(TensorValue.ofFloats("W", wt, 4, 5)),
                List.of(ValueInfo.tensor("x", DataType.FLOAT, Dim.of(2), Dim.of(5))),
                List.of(ValueInfo.tensor("y", DataType.FLOAT, Dim.of(2), Dim.of(4))));
        OnnxModel m = new OnnxModel(8, List.of(new OpsetImport("", 17)), "test", "", "", 0, "", g, Map.of(),
                UnknownFields.EMPTY);
        LoraGraph l = LoraGraph.of(m, LoraConfig.rank(2).build(), 3);
        assertThat(l.targets()).hasSize(1);
        LoraGraph.Target t = l.targets().get(0);
        assertThat(t.transposed()).isTrue();
        assertThat(t.in()).isEqualTo(5);
        assertThat(t.out()).isEqualTo(4);
        Map<String, Tensor> a = Map.of("W.lora_down", Tensor.wrap(values(10, 10), 5, 2), "W.lora_up",
                Tensor.wrap(values(11, 8), 2, 4));
        double[] w = effective(wt, 4, 5, true, a.get("W.lora_down"), a.get("W.lora_up"), 1.0);
        float[] adapterForm = OrtOracle.run(l.withAdapters(a), input()).get("y").toFloats();
        float[] mergedForm = OrtOracle.run(l.merge(a), input()).get("y").toFloats();
        for (int n = 0; n < 2; n++) {
            for (int o = 0; o < 4; o++) {
                double want = 0;
                for (int i = 0; i < 5; i++) {
                    want += X[n * 5 + i] * w[o * 5 + i];
                }
                assertThat((double) adapterForm[n * 4 + o]).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4));
                assertThat((double) mergedForm[n * 4 + o]).isCloseTo(adapterForm[n * 4 + o],
                        org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }
}
