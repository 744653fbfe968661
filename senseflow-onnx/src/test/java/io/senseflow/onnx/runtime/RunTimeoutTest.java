package io.senseflow.onnx.runtime;

import static io.senseflow.onnx.runtime.Fixtures.CPU1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.CancelledException;
import io.senseflow.DeadlineExceededException;
import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Time limits on ONNX Runtime runs: a deliberately slow graph (a chain of {@value #NODES} products with a 512 x 512
 * matrix; at 512 rows that is 134 GFLOP, seconds on one thread of a fast machine and far longer here) is terminated
 * soon after its limit passes, with a {@link DeadlineExceededException}; the session stays usable (the same graph
 * at one row, 0.26 GFLOP, runs again), and runs with a limit they do not reach are unaffected.
 *
 * <p>(ONNX Runtime runs every node of the graph even when only an output that needs none of them is asked for, so
 * the cheap runs use a cheap input shape, not another output.)
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RunTimeoutTest {
    static final int NODES = 500;
    static final int SIZE = 512;
    /** What a terminated run may take at most: the limit plus generous slack for a loaded machine. */
    static final Duration BOUND = Duration.ofSeconds(4);

    static OrtRuntime ort;
    static OnnxModel slow;

    /** {@code chain = x W W ... W} for {@code x [rows, SIZE]} ({@value #NODES} MatMul nodes; W random with variance 1/SIZE). */
    static OnnxModel slowGraph() {
        GraphBuilder g = GraphBuilder.create("slow");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("rows"), Dim.of(SIZE));
        Tensor w = Fixtures.random(3, SIZE, SIZE).scale((float) (1 / Math.sqrt(SIZE)));
        String wName = g.initializer("w", w.toArray(), SIZE, SIZE);
        String h = x;
        for (int i = 0; i < NODES; i++) {
            h = g.matMul(h, wName);
        }
        g.output(h, "chain", DataType.FLOAT, Dim.symbolic("rows"), Dim.of(SIZE));
        return g.build();
    }

    @BeforeAll
    static void start() {
        ort = OrtRuntime.create(CPU1);
        slow = slowGraph();
    }

    @AfterAll
    static void stop() {
        ort.close();
    }

    /** A slow input: 512 rows. */
    private static OrtInputs slowInput() {
        return OrtInputs.create().put("x", Fixtures.random(4, SIZE, SIZE));
    }

    /** A quick input: one row. */
    private static OrtInputs quickInput() {
        return OrtInputs.create().put("x", Fixtures.random(5, 1, SIZE));
    }

    @Test
    void aRunPastItsLimitIsTerminatedAndTheModelStaysUsable() {
        try (OrtModel m = ort.load(slow, "slow/model.onnx", CPU1)) {
            Tensor expected = m.runSingle(quickInput(), "chain");
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> m.run(slowInput(), List.of("chain"), Duration.ofMillis(200)))
                    .isInstanceOf(DeadlineExceededException.class).isInstanceOf(CancelledException.class)
                    .hasMessage("slow/model.onnx: the run was terminated after its time limit of 200 ms passed "
                            + "(SessionConfig.runTimeout or the call's timeout)");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(BOUND);
            // the same session runs again, with or without a limit, bit for bit as before
            assertThat(m.run(quickInput(), List.of("chain"), Duration.ofSeconds(30)).get("chain")).isEqualTo(expected);
            assertThat(m.runSingle(quickInput(), "chain")).isEqualTo(expected);
        }
    }

    @Test
    void theSessionConfigLimitAppliesToEveryRunAndALimitThatIsNotReachedChangesNothing() {
        SessionConfig limited = CPU1.toBuilder().runTimeout(Duration.ofMillis(150)).build();
        assertThat(limited.runTimeout()).isEqualTo(Duration.ofMillis(150));
        assertThat(limited.toString()).contains("runTimeout=PT0.15S");
        assertThat(limited).isNotEqualTo(CPU1);
        assertThat(CPU1.runTimeout()).isEqualTo(Duration.ZERO);
        try (OrtModel m = ort.load(slow, "slow/model.onnx", limited)) {
            long t0 = System.nanoTime();
            assertThatThrownBy(() -> m.run(slowInput(), List.of("chain"))).isInstanceOf(DeadlineExceededException.class)
                    .hasMessageContaining("time limit of 150 ms");
            assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(BOUND);
        }
        SessionConfig generous = CPU1.toBuilder().runTimeout(Duration.ofSeconds(30)).build();
        try (OrtModel m = ort.load(slow, "slow/model.onnx", generous)) {
            // runs that end in time return what an unlimited run returns, bit for bit, again and again: the timer of a
            // finished run is cancelled and never fires into a later one
            Tensor expected = m.run(quickInput(), List.of("chain"), Duration.ZERO).get("chain");
            for (int i = 0; i < 10; i++) {
                assertThat(m.runSingle(quickInput(), "chain")).isEqualTo(expected);
            }
        }
        assertThatThrownBy(() -> SessionConfig.builder().runTimeout(Duration.ofMillis(-1)))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("runTimeout");
    }

    @Test
    void aTerminatedRunDoesNotDisturbAConcurrentRunOfTheSameSession() throws Exception {
        try (OrtModel m = ort.load(slow, "slow/model.onnx", CPU1)) {
            Tensor expected = m.runSingle(quickInput(), "chain");
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                Future<?> doomed = pool.submit(() -> m.run(slowInput(), List.of("chain"), Duration.ofMillis(300)));
                Future<Tensor> fine = pool.submit(() -> {
                    Tensor last = null;
                    for (int i = 0; i < 5; i++) {
                        last = m.run(quickInput(), List.of("chain"), Duration.ofSeconds(30)).get("chain");
                    }
                    return last;
                });
                assertThat(fine.get()).isEqualTo(expected);
                assertThatThrownBy(doomed::get).hasCauseInstanceOf(DeadlineExceededException.class);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    @Test
    void aModelClosedAfterATerminatedRunRefusesWork() {
        OrtModel m = ort.load(slow, "slow/model.onnx", CPU1);
        assertThatThrownBy(() -> m.run(slowInput(), List.of("chain"), Duration.ofMillis(100)))
                .isInstanceOf(DeadlineExceededException.class);
        m.close();
        m.close();
        assertThatThrownBy(() -> m.run(quickInput(), List.of("chain"), Duration.ofSeconds(1)))
                .isInstanceOf(IllegalStateException.class).hasMessage("OrtModel slow/model.onnx is closed");
    }
}
