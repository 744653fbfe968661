package io.senseflow.tf.testing;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ModuleInputs;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The reference {@link io.senseflow.reference.Mlp}'s architecture as an ONNX graph: inputs {@code x [B, xDim]},
 * {@code sigma [B]}, {@code pooled [B, condDim]}; the concatenation {@code [x, s, sin(pi 2^k s), cos(pi 2^k s),
 * pooled]} with the Fourier features computed in float64 (as the reference does) and rounded to float32; Gemm
 * layers with PyTorch's {@code [out, in]} weights named {@code l<k>.weight}/{@code l<k>.bias}; SiLU between them.
 */
public final class MlpGraph {
    private MlpGraph() {
    }

    /**
     * @param spec the architecture
     * @param weights initial values by parameter name (e.g. a reference Mlp's snapshot)
     * @return the model
     */
    public static OnnxModel of(MlpSpec spec, Map<String, Tensor> weights) {
        GraphBuilder g = GraphBuilder.create("mlp");
        Dim batch = Dim.symbolic("batch");
        String x = g.input("x", DataType.FLOAT, batch, Dim.of(spec.xDim()));
        List<String> parts = new ArrayList<>(List.of(x));
        if (spec.timeFrequencies() > 0) {
            String sigma = g.input("sigma", DataType.FLOAT, batch);
            String s = g.unsqueeze(sigma, 1);
            parts.add(s);
            int k = spec.timeFrequencies();
            double[] freq = new double[k];
            for (int i = 0; i < k; i++) {
                freq[i] = Math.PI * (1 << i);
            }
            String a = g.mul(g.cast(s, DataType.DOUBLE), g.constant(TensorValue.ofDoubles("", freq, 1, k)));
            String sin = g.unsqueeze(g.cast(g.sin(a), DataType.FLOAT), 2);
            String cos = g.unsqueeze(g.cast(g.cos(a), DataType.FLOAT), 2);
            parts.add(g.reshape(g.concat(2, sin, cos), 0, 2L * k));
        }
        if (spec.condDim() > 0) {
            parts.add(g.input("pooled", DataType.FLOAT, batch, Dim.of(spec.condDim())));
        }
        String h = parts.size() == 1 ? parts.get(0) : g.concat(1, parts.toArray(new String[0]));
        int[] hidden = spec.hidden();
        int layers = hidden.length + 1;
        for (int l = 0; l < layers; l++) {
            String w = g.initializer(TensorValue.of("l" + l + ".weight", weights.get("l" + l + ".weight")));
            String b = g.initializer(TensorValue.of("l" + l + ".bias", weights.get("l" + l + ".bias")));
            h = g.gemm(h, w, b, 1f, 1f, false, true);
            if (l < layers - 1) {
                h = g.mul(h, g.sigmoid(h));
            }
        }
        g.output(h, "out", DataType.FLOAT, batch, Dim.of(spec.outDim()));
        return g.build();
    }

    /**
     * A TF module of the MLP with the reference's input names and gradients ({@code x} and {@code pooled}).
     *
     * @param spec the architecture
     * @param weights initial values
     * @param optimizer AdamW settings or null
     * @param workspace a shared workspace or null for the module's own
     * @param name module name
     * @return the module
     */
    public static TfModule module(MlpSpec spec, Map<String, Tensor> weights, AdamWConfig optimizer, TfWorkspace workspace,
                                  String name) {
        TfModule.Builder b = TfModule.builder(of(spec, weights)).name(name).workspace(workspace).optimizer(optimizer)
                .input(InputBinding.of(ModuleInputs.X, "x"));
        if (spec.timeFrequencies() > 0) {
            b.input(InputBinding.of(ModuleInputs.SIGMA, "sigma"));
        }
        if (spec.condDim() > 0) {
            b.input(InputBinding.of(ModuleInputs.POOLED, "pooled"));
        }
        if (spec.outputLikeX()) {
            b.outputLike(ModuleInputs.X);
        }
        return b.build();
    }

    /** @param a a tensor @param b another @return the largest absolute difference */
    public static double maxDiff(Tensor a, Tensor b) {
        if (a.size() != b.size()) {
            throw new AssertionError("sizes differ: " + Arrays.toString(a.shape()) + " vs " + Arrays.toString(b.shape()));
        }
        double d = 0;
        for (int i = 0; i < a.size(); i++) {
            d = Math.max(d, Math.abs(a.get(i) - b.get(i)));
        }
        return d;
    }
}
