package io.senseflow.tf.distributed;

import io.senseflow.distill.DataShard;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.Recipe;
import io.senseflow.distill.TeacherGuidance;
import io.senseflow.distill.TimestepSpec;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.GaussianMixture;
import io.senseflow.testing.MixtureDataset;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientReducer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The test job of the multi-JVM tests: SenseFlow distillation (DMD + IDA + ISG, cfg guidance with drawn scales, EMA)
 * of the closed-form Gaussian-mixture teacher into reference MLPs. Arguments {@code key=value}: {@code batch}
 * (global), {@code iterations}, {@code modules=tf} (TensorFlow modules instead of the
 * reference MLPs), {@code width} (hidden width, default 48), {@code pace-ms} (sleep after each iteration, so tests can hit a run mid-way),
 * {@code poison=<iteration>:<global sample>} (that real sample becomes NaN: the worker holding it fails).
 */
public final class MixtureJob implements DataParallelJob {
    static final GaussianMixture DATA = GaussianMixture.ring(8, 2.0, 0.2);
    static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 48, 2);

    /** Public no-argument constructor: workers create the job by name. */
    public MixtureJob() {
    }

    static Map<String, String> options(List<String> args) {
        Map<String, String> m = new HashMap<>();
        for (String a : args) {
            int eq = a.indexOf('=');
            m.put(a.substring(0, eq), a.substring(eq + 1));
        }
        return m;
    }

    static DistillationConfig config(Map<String, String> o) {
        return DistillationConfig.preset(Recipe.DMD_IDA_ISG, Family.CUSTOM).toBuilder()
                .batchSize(Integer.parseInt(o.getOrDefault("batch", "12")))
                .iterations(Long.parseLong(o.getOrDefault("iterations", "20"))).seed(5).emaDecay(0.9)
                .backwardSimulation(0.5).optimizers(AdamWConfig.constant(1e-4))
                .dmd(new DistillationConfig.Dmd(true, 1, new TimestepSpec.TableIndex(1, 20, 980),
                        new TeacherGuidance.Cfg(1.5, 3))).build();
    }

    @Override
    public Distiller build(WorkerContext context) {
        return build(context.shard(), context.reducer(), context.arguments(), context::own);
    }

    static Distiller build(DataShard shard, GradientReducer reducer, List<String> args,
            java.util.function.Consumer<AutoCloseable> owner) {
        Map<String, String> o = options(args);
        DistillationConfig cfg = config(o);
        MixtureDataset data = new MixtureDataset(DATA, List.of("all", "modes 0,1,2,3", "modes 4,5,6,7", "modes 0,2,4,6"),
                cfg.seed());
        DistillationDataset dataset = data;
        String poison = o.get("poison");
        if (poison != null) {
            long at = Long.parseLong(poison.substring(0, poison.indexOf(':')));
            int sample = Integer.parseInt(poison.substring(poison.indexOf(':') + 1));
            dataset = new DistillationDataset() {
                @Override
                public DistillationBatch batch(long iteration, int batchSize) {
                    DistillationBatch b = data.batch(iteration, batchSize);
                    if (iteration != at) {
                        return b;
                    }
                    float[] r = b.realSamples().toArray();
                    r[sample * 2] = Float.NaN;
                    return new DistillationBatch(b.prompts(), null, null, Tensor.wrap(r, b.realSamples().shape()));
                }

                @Override
                public int[] sampleShape() {
                    return data.sampleShape();
                }
            };
        }
        DifferentiableModule g;
        DifferentiableModule f;
        MlpSpec spec = o.containsKey("width") ? MlpSpec.denoiser(2, 8, Integer.parseInt(o.get("width")), 2) : SPEC;
        Mlp ema = new Mlp(spec, 99, null);
        if ("tf".equals(o.get("modules"))) {
            // TensorFlow modules (TfAdamW: gradients read and replaced in the TF graph)
            TfWorkspace ws = TfWorkspace.create();
            owner.accept(ws);
            Map<String, Tensor> init = new Mlp(spec, 1, null).parameters().snapshot();
            g = MlpGraph.module(spec, init, cfg.generatorOptimizer(), ws, "generator");
            f = MlpGraph.module(spec, init, cfg.fakeScoreOptimizer(), ws, "fake_score");
        } else {
            g = new Mlp(spec, 1, cfg.generatorOptimizer());
            f = new Mlp(spec, 1, cfg.fakeScoreOptimizer());
        }
        Distiller.Builder b = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(DATA)).generator(g)
                .fakeScore(f).ema(ema.parameters()).dataset(dataset).promptEncoder(data.promptEncoder())
                .dataParallel(shard, reducer);
        long pace = Long.parseLong(o.getOrDefault("pace-ms", "0"));
        if (pace > 0) {
            b.listener(m -> {
                try {
                    Thread.sleep(pace);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        return b.build();
    }
}
