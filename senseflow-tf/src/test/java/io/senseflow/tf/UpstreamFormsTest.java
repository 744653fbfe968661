package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import io.senseflow.train.UpstreamLoss;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The in-graph upstream forms against {@link UpstreamLoss}, directly: through an identity graph the input gradient
 * is the upstream gradient itself, so both must agree bit for bit; and input bindings with a scale.
 */
class UpstreamFormsTest {

    static OnnxModel identity() {
        GraphBuilder g = GraphBuilder.create("id");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("b"), Dim.of(3), Dim.of(2));
        g.output(g.identity(x), "y", DataType.FLOAT, Dim.symbolic("b"), Dim.of(3), Dim.of(2));
        return g.build();
    }

    static Tensor values(int n, double offset) {
        float[] v = new float[n * 6];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (Math.sin(1.7 * i + offset) * 1.9);
        }
        return Tensor.wrap(v, n, 3, 2);
    }

    @Test
    void inGraphFormsEqualTheReferenceSemanticsBitForBit() {
        try (TfModule m = TfModule.builder(identity()).input(InputBinding.of(ModuleInputs.X, "x")).build()) {
            Tensor x = values(5, 0);
            float[] w = {0.5f, 1f, 1.5f, 0f, 3f};
            for (Upstream up : List.of(Upstream.linear(-0.37, w), Upstream.linear(2, null),
                    Upstream.mse(values(5, 1), w), Upstream.mse(values(5, 2), null), Upstream.hinge(1, w),
                    Upstream.hinge(-1, null), Upstream.explicit(values(5, 3)))) {
                UpstreamLoss.Evaluated want = UpstreamLoss.evaluate(up, x);
                BackwardResult got = m.backward(ModuleInputs.of(x, null), up, GradientMode.INPUTS);
                assertThat(got.inputGradient(ModuleInputs.X).toArray()).as(up.toString())
                        .containsExactly(want.gradient().toArray());
                if (Double.isNaN(want.loss())) {
                    assertThat(got.loss()).isNaN();
                } else {
                    assertThat(got.loss()).as(up.toString()).isCloseTo(want.loss(),
                            org.assertj.core.data.Offset.offset(1e-12 * Math.max(1, Math.abs(want.loss()))));
                }
            }
        }
    }

    @Test
    void aScaledBindingFeedsTheScaledValueAndDifferentiatesThroughTheScale() {
        GraphBuilder g = GraphBuilder.create("scaled");
        String x = g.input("sample", DataType.FLOAT, Dim.symbolic("b"), Dim.of(2));
        String t = g.input("timestep", DataType.FLOAT, Dim.symbolic("b"));
        g.output(g.mul(x, g.unsqueeze(t, 1)), "out", DataType.FLOAT, Dim.symbolic("b"), Dim.of(2));
        try (TfModule m = TfModule.builder(g.build()).input(InputBinding.of(ModuleInputs.X, "sample"))
                .input(InputBinding.of(ModuleInputs.SIGMA, "timestep").scaled(1000).withGradient(true)).build()) {
            ModuleInputs in = new ModuleInputs(Map.of(ModuleInputs.X, Tensor.of(new float[] {1, 2, 3, 4}, 2, 2),
                    ModuleInputs.SIGMA, Tensor.of(new float[] {0.5f, 0.25f}, 2)));
            assertThat(m.forward(in).toArray()).containsExactly(500, 1000, 750, 1000);
            BackwardResult r = m.backward(in, Upstream.explicit(Tensor.of(new float[] {1, 1, 1, -1}, 2, 2)),
                    GradientMode.INPUTS);
            assertThat(r.inputGradient(ModuleInputs.X).toArray()).containsExactly(500, 500, 250, -250);
            assertThat(r.inputGradient(ModuleInputs.SIGMA).toArray()).containsExactly(3000, -1000);
        }
    }
}
