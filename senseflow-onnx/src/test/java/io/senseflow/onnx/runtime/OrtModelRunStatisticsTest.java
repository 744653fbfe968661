package io.senseflow.onnx.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Reused input buffers give the same results as fresh ones, and run statistics count what ran. */
class OrtModelRunStatisticsTest {
    /** y = 2 x + (float) ids, with a symbolic batch. */
    static OnnxModel model() {
        GraphBuilder g = GraphBuilder.create("scale");
        Dim b = Dim.symbolic("batch");
        String x = g.input("x", DataType.FLOAT, b, Dim.of(3));
        String ids = g.input("ids", DataType.INT64, b, Dim.of(3));
        String y = g.add(g.mul(x, g.floatScalar(2f)), g.cast(ids, DataType.FLOAT));
        g.output(y, "y", DataType.FLOAT, b, Dim.of(3));
        return g.build();
    }

    static Tensor expected(Tensor x, long[] ids) {
        float[] v = x.toArray();
        for (int i = 0; i < v.length; i++) {
            v[i] = 2 * v[i] + ids[i];
        }
        return Tensor.of(v, x.shape());
    }

    @Test
    void buffersReusedAcrossBatchSizesAndViewsGiveExactResults() {
        try (OrtRuntime ort = OrtRuntime.create(Fixtures.CPU1); OrtModel m = ort.load(model(), "scale.onnx", Fixtures.CPU1)) {
            Tensor big = Fixtures.random(3, 6, 3);
            for (int batch : new int[] {1, 4, 1, 6, 2, 6}) {
                // a view into a larger tensor (offset > 0) as well as a tensor of its own
                for (Tensor x : new Tensor[] {big.sliceBatch(6 - batch, 6), big.sliceBatch(0, batch).copy()}) {
                    long[] ids = new long[3 * batch];
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = i * 7L - 5;
                    }
                    Tensor y = m.runSingle(OrtInputs.create().put("x", x).putIds("ids", ids, batch, 3), "y");
                    assertThat(y).isEqualTo(expected(x, ids));
                }
            }
        }
    }

    @Test
    void statisticsCountRunsAndTheirTime() {
        try (OrtRuntime ort = OrtRuntime.create(Fixtures.CPU1); OrtModel m = ort.load(model(), "scale.onnx", Fixtures.CPU1)) {
            assertThat(m.statistics()).isEqualTo(RunStatistics.NONE);
            RunStatistics before = m.statistics();
            for (int i = 0; i < 5; i++) {
                m.runSingle(OrtInputs.create().put("x", Fixtures.random(i, 2, 3)).putIds("ids", new long[6], 2, 3), "y");
            }
            // a call refused before anything runs is not counted
            assertThatThrownBy(() -> m.runSingle(OrtInputs.create().put("x", Fixtures.random(9, 2, 3)), "y"))
                    .isInstanceOf(InvalidRequestException.class);
            RunStatistics d = m.statistics().minus(before);
            assertThat(d.runs()).isEqualTo(5);
            assertThat(d.sessionNanos()).isPositive();
            assertThat(d.totalNanos()).isGreaterThanOrEqualTo(d.sessionNanos());
            assertThat(d.boundaryNanos()).isEqualTo(d.totalNanos() - d.sessionNanos());
            // one intra-op thread: the calling thread itself computes every run
            assertThat(d.sessionCpuNanos()).isPositive();
            assertThat(d.plus(d).sessionCpuNanos()).isEqualTo(2 * d.sessionCpuNanos());
            assertThat(ort.statistics()).containsOnlyKeys("scale.onnx");
            assertThat(ort.statistics().get("scale.onnx").runs()).isEqualTo(5);
        }
    }
}
