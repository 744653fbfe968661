package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientReducer;
import io.senseflow.train.ParameterSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/**
 * The sharding of the loop, engine-free: N workers (threads, each with its own modules) on slices of the global batch
 * with gradients averaged in memory give the one-process run at the same global batch. The TensorFlow all-reduce
 * across JVMs is tested in senseflow-tf (DataParallelRunTest).
 */
class DataParallelDistillerTest {
    private static final int GLOBAL_BATCH = 12;
    /**
     * 100 times the released rate (1e-6). Adam turns a rounding difference in a near-zero gradient coordinate into an
     * update difference of up to about the learning rate; at 1e-3 one of F's 17k weights ends 2.1e-6 apart after 20
     * iterations (all others within 1.8e-7), at 1e-4 everything stays within 1e-6.
     */
    private static final double LEARNING_RATE = 1e-4;

    private static DistillationConfig config() {
        // ISG, IDA, EMA, cfg guidance with drawn scales, forward noising and backward simulation both in play
        return DistillationConfig.preset(Recipe.DMD_IDA_ISG, Family.CUSTOM).toBuilder().batchSize(GLOBAL_BATCH)
                .iterations(20).seed(11).emaDecay(0.9).backwardSimulation(0.5)
                .optimizers(AdamWConfig.constant(LEARNING_RATE)).dmd(new DistillationConfig.Dmd(true, 1,
                        new TimestepSpec.TableIndex(1, 20, 980), new TeacherGuidance.Cfg(1.5, 3))).build();
    }

    private record Worker(Mlp g, Mlp f, Mlp ema, Mlp d, Distiller distiller) {
    }

    private static Worker worker(DistillationConfig cfg, DataShard shard, GradientReducer reducer) {
        Mlp g = new Mlp(MixtureExperiment.SPEC, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(MixtureExperiment.SPEC, 1, cfg.fakeScoreOptimizer());
        Mlp ema = new Mlp(MixtureExperiment.SPEC, 99, null);
        // with the GAN term: a plain MLP head (no random inputs of its own) and no augmentation
        Mlp disc = cfg.gan().enabled() ? new Mlp(MlpSpec.discriminator(2, 8, 16, 1), 2, cfg.discriminatorOptimizer())
                : null;
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(g).fakeScore(f).ema(ema.parameters()).dataset(MixtureExperiment.dataset(cfg.seed()))
                .discriminator(disc).promptEncoder(MixtureExperiment.PROMPTS).dataParallel(shard, reducer).build();
        return new Worker(g, f, ema, disc, d);
    }

    private static DistillationConfig ganConfig() {
        DistillationConfig base = config();
        return DistillationConfig.preset(Recipe.SENSEFLOW, Family.CUSTOM).toBuilder().batchSize(GLOBAL_BATCH)
                .iterations(20).seed(11).emaDecay(0.9).backwardSimulation(0.5).ttur(2)
                .optimizers(AdamWConfig.constant(LEARNING_RATE)).dmd(base.dmd())
                // the hinge gradient of D's output bias is (mean real weight - mean fake weight) while every sample is
                // inside the margin: exactly 0, in floats a rounding residue of ~1e-9 that differs with the summation
                // order; Adam with epsilon 1e-8 turns that residue into a full +-lr step (measured: 1 of D's 193
                // values 1.8e-4 apart at epsilon 1e-8, 1.6e-6 at 1e-6, the rest within 1e-6); epsilon 1e-5 keeps
                // such steps small
                .discriminatorOptimizer(new AdamWConfig(io.senseflow.train.LearningRateSchedule.constant(LEARNING_RATE,
                        0), 0.9, 0.999, 1e-5, 0, 1.0)).build();
    }

    /** Averages gradients of N threads in memory: the role the TensorFlow collective plays across processes. */
    private static final class MemoryReducer {
        private final int n;
        private final CyclicBarrier barrier;
        private final float[][] contributions;
        private volatile float[] mean;

        MemoryReducer(int n) {
            this.n = n;
            this.contributions = new float[n][];
            this.barrier = new CyclicBarrier(n, () -> {
                float[] sum = new float[contributions[0].length];
                for (float[] c : contributions) {
                    for (int i = 0; i < sum.length; i++) {
                        sum[i] += c[i];
                    }
                }
                for (int i = 0; i < sum.length; i++) {
                    sum[i] /= n;
                }
                mean = sum;
            });
        }

        GradientReducer forRank(int rank) {
            return (String module, DifferentiableModule m, long it) -> {
                List<String> names = m.parameters().specs().stream().map(ParameterSpec::name).toList();
                Map<String, Tensor> grads = m.optimizer().gradients(names);
                List<Float> flat = new ArrayList<>();
                for (Tensor t : grads.values()) {
                    for (float v : t.toArray()) {
                        flat.add(v);
                    }
                }
                float[] mine = new float[flat.size()];
                for (int i = 0; i < mine.length; i++) {
                    mine[i] = flat.get(i);
                }
                contributions[rank] = mine;
                await();
                float[] avg = mean;
                await(); // everyone has read the mean before the next reduction overwrites it
                Map<String, Tensor> back = new LinkedHashMap<>();
                int at = 0;
                for (Map.Entry<String, Tensor> e : grads.entrySet()) {
                    int size = e.getValue().size();
                    float[] part = new float[size];
                    System.arraycopy(avg, at, part, 0, size);
                    at += size;
                    back.put(e.getKey(), Tensor.wrap(part, e.getValue().shape()));
                }
                m.optimizer().replaceGradients(back);
            };
        }

        private void await() {
            try {
                barrier.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException | BrokenBarrierException | TimeoutException e) {
                throw new IllegalStateException("reducer barrier", e);
            }
        }
    }

    private static List<Worker> runWorkers(DistillationConfig cfg, int n) throws Exception {
        MemoryReducer reducer = new MemoryReducer(n);
        List<Worker> workers = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            workers.add(worker(cfg, new DataShard(k, n), reducer.forRank(k)));
        }
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (Worker w : workers) {
                fs.add(pool.submit(() -> w.distiller().run(CancellationToken.none())));
            }
            for (Future<?> f : fs) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        return workers;
    }

    private static double maxDiff(Map<String, Tensor> a, Map<String, Tensor> b) {
        assertThat(a.keySet()).isEqualTo(b.keySet());
        double d = 0;
        for (String k : a.keySet()) {
            float[] x = a.get(k).toArray();
            float[] y = b.get(k).toArray();
            for (int i = 0; i < x.length; i++) {
                d = Math.max(d, Math.abs(x[i] - y[i]));
            }
        }
        return d;
    }

    @Test
    void twoAndThreeWorkersFollowTheOneProcessRunAtTheSameGlobalBatch() throws Exception {
        DistillationConfig cfg = config();
        Worker single = worker(cfg, DataShard.single(), GradientReducer.none());
        single.distiller().run(CancellationToken.none());
        Worker moved = worker(cfg, DataShard.single(), GradientReducer.none());
        assertThat(maxDiff(single.g().parameters().snapshot(), moved.g().parameters().snapshot()))
                .as("the run moves the parameters (else the comparison below says nothing)").isGreaterThan(2e-4);
        for (int n : new int[] {2, 3}) {
            List<Worker> ws = runWorkers(cfg, n);
            for (Worker w : ws) {
                assertThat(w.distiller().iteration()).isEqualTo(20);
                assertThat(maxDiff(w.g().parameters().snapshot(), single.g().parameters().snapshot())).as("G, %d workers", n)
                        .isLessThan(1e-6);
                assertThat(maxDiff(w.f().parameters().snapshot(), single.f().parameters().snapshot())).as("F, %d workers", n)
                        .isLessThan(1e-6);
                assertThat(maxDiff(w.ema().parameters().snapshot(), single.ema().parameters().snapshot()))
                        .as("EMA, %d workers", n).isLessThan(1e-6);
                // bit-identical across workers
                assertThat(w.g().parameters().snapshot()).isEqualTo(ws.get(0).g().parameters().snapshot());
                assertThat(w.f().parameters().snapshot()).isEqualTo(ws.get(0).f().parameters().snapshot());
            }
        }
    }

    @Test
    void theGanTermWithAPlainHeadFollowsTheOneProcessRunAndAnAugmentationIsRefused() throws Exception {
        DistillationConfig cfg = ganConfig();
        assertThat(cfg.gan().enabled()).isTrue();
        Worker single = worker(cfg, DataShard.single(), GradientReducer.none());
        List<IterationMetrics> seen = new ArrayList<>();
        single.distiller().addListener(seen::add);
        single.distiller().run(CancellationToken.none());
        // the GAN term and the discriminator update both ran (real samples in every batch)
        assertThat(seen).anyMatch(m -> m.losses().containsKey("gan"));
        assertThat(seen).anyMatch(m -> m.losses().containsKey("discriminator_real"));
        Worker fresh = worker(cfg, DataShard.single(), GradientReducer.none());
        assertThat(maxDiff(single.d().parameters().snapshot(), fresh.d().parameters().snapshot()))
                .as("the discriminator trained").isGreaterThan(2e-4);
        List<Worker> ws = runWorkers(cfg, 2);
        for (Worker w : ws) {
            assertThat(maxDiff(w.g().parameters().snapshot(), single.g().parameters().snapshot())).as("G").isLessThan(1e-6);
            assertThat(maxDiff(w.f().parameters().snapshot(), single.f().parameters().snapshot())).as("F").isLessThan(1e-6);
            assertThat(maxDiff(w.d().parameters().snapshot(), single.d().parameters().snapshot())).as("D").isLessThan(1e-6);
            assertThat(w.d().parameters().snapshot()).isEqualTo(ws.get(0).d().parameters().snapshot());
        }
        Mlp disc = new Mlp(MlpSpec.discriminator(2, 8, 16, 1), 2, cfg.discriminatorOptimizer());
        assertThatThrownBy(() -> Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment
                .DATA)).generator(new Mlp(MixtureExperiment.SPEC, 1, cfg.generatorOptimizer())).fakeScore(new Mlp(
                MixtureExperiment.SPEC, 1, cfg.fakeScoreOptimizer())).dataset(MixtureExperiment.dataset(cfg.seed()))
                .discriminator(disc).augmentation(DiffAugment.standard(), true).promptEncoder(MixtureExperiment.PROMPTS)
                .dataParallel(new DataShard(0, 2), GradientReducer.none()).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("augmentation");
    }

    @Test
    void withoutTheGradientMeanTheShardsDiverge() throws Exception {
        // the same shards with a reducer that does nothing: each worker trains on its own slice only
        DistillationConfig cfg = config();
        Worker single = worker(cfg, DataShard.single(), GradientReducer.none());
        single.distiller().run(CancellationToken.none());
        Worker w0 = worker(cfg, new DataShard(0, 2), GradientReducer.none());
        w0.distiller().run(CancellationToken.none());
        assertThat(maxDiff(w0.g().parameters().snapshot(), single.g().parameters().snapshot())).isGreaterThan(1e-5);
    }

    @Test
    void theReducerIsCalledOncePerModuleUpdateAfterBackwardAndTimedAsAPhase() {
        DistillationConfig cfg = config().toBuilder().ttur(3).iterations(7).build();
        List<String> calls = new ArrayList<>();
        Worker w = worker(cfg, new DataShard(1, 2), (module, m, it) -> {
            // after backward: the accumulated gradient is there; before the clip: its norm is still unclipped
            assertThat(m.optimizer().gradientNorm()).isPositive();
            calls.add(it + ":" + module);
        });
        List<IterationMetrics> seen = new ArrayList<>();
        w.distiller().addListener(seen::add);
        w.distiller().run(CancellationToken.none());
        assertThat(calls).containsExactly("0:generator", "0:fake_score", "1:fake_score", "2:fake_score",
                "3:generator", "3:fake_score", "4:fake_score", "5:fake_score", "6:generator", "6:fake_score");
        assertThat(seen).allMatch(m -> m.phaseNanos().containsKey("allreduce"));
        Worker single = worker(cfg, DataShard.single(), GradientReducer.none());
        List<IterationMetrics> one = new ArrayList<>();
        single.distiller().addListener(one::add);
        single.distiller().run(CancellationToken.none());
        assertThat(one).noneMatch(m -> m.phaseNanos().containsKey("allreduce"));
    }

    @Test
    void shardsAreCheckedBeforeAnyWork() {
        assertThatThrownBy(() -> new DataShard(2, 2)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("worker index");
        assertThatThrownBy(() -> new DataShard(0, 0)).isInstanceOf(InvalidRequestException.class);
        DistillationConfig cfg = config().toBuilder().batchSize(10).build();
        assertThatThrownBy(() -> worker(cfg, new DataShard(0, 3), GradientReducer.none()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("batchSize")
                .hasMessageContaining("multiple of the 3");
    }
}
