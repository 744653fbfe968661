package io.senseflow.bench.jmh;

import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.NoiseKey;
import io.senseflow.noise.Streams;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.FlowMatchEulerScheduler;
import io.senseflow.schedule.SigmaSchedule;
import io.senseflow.tensor.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The pure-Java work of one sampling step besides the transformer, for the latents of the Shapes-sized model
 * (batch x 4 x 8 x 8) and of the large in-house model (batch x 4 x 64 x 64): the Euler update, the few-step sampler's
 * re-noising (which draws fresh counter-based noise), the noise alone, and classifier-free guidance's batching and
 * combination.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PerStepBenchmark {
    /** "batch x side": latents batch x 4 x side x side. */
    @Param({"1x8", "8x8", "1x64", "8x64"})
    public String latents;

    private Tensor x;
    private Tensor v;
    private int[] shape;
    private NoiseKey[] keys;
    private SigmaSchedule euler;
    private SigmaSchedule fewStep;
    private FlowMatchEulerScheduler eulerScheduler;
    private FewStepScheduler fewStepScheduler;

    @Setup
    public void setUp() {
        String[] p = latents.split("x");
        int batch = Integer.parseInt(p[0]);
        int side = Integer.parseInt(p[1]);
        shape = new int[] {batch, 4, side, side};
        keys = new NoiseKey[batch];
        for (int b = 0; b < batch; b++) {
            keys[b] = new NoiseKey(42, b);
        }
        x = GaussianNoise.sample(keys, Streams.INITIAL_NOISE, shape);
        v = GaussianNoise.sample(keys, Streams.stepNoise(0), shape);
        eulerScheduler = FlowMatchEulerScheduler.sd3(3.0);
        euler = eulerScheduler.timesteps(50, side * side / 4);
        fewStepScheduler = FewStepScheduler.of(1, 0.9, 0.75, 0.5);
        fewStep = fewStepScheduler.timesteps(4, side * side / 4);
    }

    /** @return one Euler step of the many-step teacher sampler */
    @Benchmark
    public Tensor eulerStep() {
        return eulerScheduler.step(x, v, euler, 10, () -> {
            throw new AssertionError("Euler draws no noise");
        });
    }

    /** @return one few-step re-noising step (x0 prediction, fresh noise, mix) */
    @Benchmark
    public Tensor fewStepRenoise() {
        return fewStepScheduler.step(x, v, fewStep, 1, () -> GaussianNoise.sample(keys, Streams.stepNoise(1), shape));
    }

    /** @return the counter-based noise for one step */
    @Benchmark
    public Tensor noise() {
        return GaussianNoise.sample(keys, Streams.stepNoise(1), shape);
    }

    /** @return the guided velocity from a [uncond; cond] batch: batching the state, splitting, combining */
    @Benchmark
    public Tensor guidanceBatching() {
        Tensor both = Tensor.concatBatch(x, x);
        int n = x.batch();
        return Tensor.combine(1 - 4.5f, both.sliceBatch(0, n), 4.5f, both.sliceBatch(n, 2 * n));
    }

    /** @return the finite check the pipeline runs on every output */
    @Benchmark
    public boolean finiteCheck() {
        return v.isFinite();
    }
}
