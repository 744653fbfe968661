package io.senseflow.bench;

import io.senseflow.distill.DiffAugment;
import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.DistillationObjective;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.model.Conditioning;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.runtime.DenoiserBinding;
import io.senseflow.onnx.runtime.OrtGenerator;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.discriminator.Discriminator;
import io.senseflow.tf.discriminator.HeadSpec;
import io.senseflow.tf.discriminator.Tap;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.train.DenoiserSpec;
import io.senseflow.tf.train.StudentModules;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.FlowMatchingConfig;
import io.senseflow.train.FlowMatchingTrainer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Time per SenseFlow distillation iteration, by phase, against one plain flow-matching training step of the same
 * transformer at the same batch. The teacher runs in ONNX Runtime, G and F are TensorFlow modules derived from the
 * teacher's graph ({@code StudentModules}), the GAN term uses DMD2's discriminator on the fake score's features (no
 * extra model). Constants: the SD3.5 Large preset (anchors 1, .9, .75, .5; TTUR 5; CFG teacher for DMD and ISG; IDA
 * 0.97). Iterations are averaged over whole TTUR cycles after a warm-up cycle (the first iteration builds every
 * gradient graph).
 */
public final class DistillationBench {
    private final BenchSettings settings;

    /** @param settings threads, repetitions (measured TTUR cycles), progress */
    public DistillationBench(BenchSettings settings) {
        this.settings = settings;
    }

    /**
     * What one distillation measurement found.
     *
     * @param label the recipe
     * @param iterations measured iterations (whole TTUR cycles)
     * @param ttur the cycle length
     * @param phases mean nanoseconds per iteration, by row of {@link #phaseTable}, in order
     * @param iterationNanos mean iteration time
     * @param peakRss peak resident memory while it ran (bytes, -1 if unknown), the flow-matching module included
     * @param flowMatching the flow-matching steps interleaved with its iterations, one after each
     */
    public record Result(String label, int iterations, int ttur, Map<String, Double> phases, double iterationNanos,
                         long peakRss, Samples flowMatching) {
        /** @return mean iteration time / median of the flow-matching steps interleaved with it */
        public double ratio() {
            return iterationNanos / flowMatching.median();
        }
    }

    /**
     * Both measurements for one model and batch.
     *
     * @param spec the model
     * @param batch the batch size
     * @param flowMatching the plain flow-matching steps measured alone, before the distillation runs
     * @param runs one result per recipe
     * @param flowMatchingPeakRss peak resident memory of the flow-matching steps alone
     */
    public record Comparison(ModelSpec spec, int batch, Samples flowMatching, List<Result> runs, long flowMatchingPeakRss) {
    }

    static DistillationConfig config(Recipe recipe, int batch) {
        DistillationConfig base = DistillationConfig.preset(recipe, Family.SD35_LARGE);
        return base.toBuilder().batchSize(batch).iterations(Long.MAX_VALUE / 2).seed(5)
                .optimizers(AdamWConfig.constant(1e-5))
                .gan(new DistillationConfig.Gan(recipe.gan(), base.gan().weighting(),
                        recipe.gan() ? DiscriminatorKind.FAKE_SCORE_FEATURES : DiscriminatorKind.NONE))
                .build();
    }

    /** A dataset of random latents with cached random text embeddings (the empty prompt: zeros). */
    static DistillationDataset dataset(FlowTransformer.Config t) {
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int n) {
                Tensor x = GaussianNoise.sample(9, iteration * n, 70, n, t.latentChannels(), t.latentHeight(),
                        t.latentWidth()).scale(0.5f);
                Conditioning c = Conditioning.of(GaussianNoise.sample(9, iteration * n, 71, n, t.textLength(), t.textWidth()),
                        GaussianNoise.sample(9, iteration * n, 72, n, t.pooledWidth()));
                Conditioning u = Conditioning.of(Tensor.zeros(n, t.textLength(), t.textWidth()), Tensor.zeros(n, t.pooledWidth()));
                return new DistillationBatch(List.of(), c, u, x);
            }

            @Override
            public int[] sampleShape() {
                return new int[] {t.latentChannels(), t.latentHeight(), t.latentWidth()};
            }
        };
    }

    /**
     * @param spec the model (its transformer is the teacher; G and F start from it)
     * @param batch the batch size
     * @param cycles measured TTUR cycles per recipe
     * @param flowMatchingSteps measured flow-matching steps (half before, half after the distillation runs)
     * @return the comparison
     */
    public Comparison run(ModelSpec spec, int batch, int cycles, int flowMatchingSteps) {
        FlowTransformer.Config t = spec.transformer();
        OnnxModel graph = FlowTransformer.build(t, 11, Init.RANDOM_ALL);
        TfSessionOptions tfOptions = TfSessionOptions.defaults().withIntraOpThreads(settings.threads()).withInterOpThreads(1);
        AdamWConfig adam = AdamWConfig.constant(1e-5);
        // The flow-matching module stays loaded: its steps are measured alone first, then one after each measured
        // distillation iteration, so that a change in the machine's load falls on both sides of the ratio alike.
        try (TfModule m = DenoiserSpec.inHouse().applyTo(TfModule.builder(graph).name("flow_matching")
                .sessionOptions(tfOptions).importOptions(DenoiserSpec.batchShapes(graph, batch, ImportOptions.defaults()))
                .optimizer(adam)).build()) {
            FlowMatchingTrainer trainer = FlowMatchingTrainer.builder()
                    .config(FlowMatchingConfig.of(1, batch, Long.MAX_VALUE / 2, adam)).model(m)
                    .dataset(dataset(t)).build();
            for (int i = 0; i < 3; i++) {
                trainer.trainStep();
            }
            PeakRss.reset();
            List<Long> alone = new ArrayList<>();
            for (int i = 0; i < flowMatchingSteps; i++) {
                alone.add(timed(trainer));
            }
            long fmPeak = PeakRss.peakBytes();
            settings.log("flow matching, batch %d: %d steps, last %.0f ms", batch, flowMatchingSteps,
                    alone.get(alone.size() - 1) / 1e6);
            List<Result> runs = new ArrayList<>();
            for (Recipe recipe : new Recipe[] {Recipe.SENSEFLOW, Recipe.DMD_IDA_ISG}) {
                PeakRss.reset();
                runs.add(distill(graph, t, recipe, batch, cycles, tfOptions, trainer));
            }
            return new Comparison(spec, batch, samples(alone), runs, fmPeak);
        }
    }

    private static long timed(FlowMatchingTrainer trainer) {
        long t0 = System.nanoTime();
        trainer.trainStep();
        return System.nanoTime() - t0;
    }

    private static Samples samples(List<Long> nanos) {
        return Samples.of(nanos.stream().mapToLong(Long::longValue).toArray());
    }

    private Result distill(OnnxModel graph, FlowTransformer.Config t, Recipe recipe, int batch, int cycles,
                           TfSessionOptions tfOptions, FlowMatchingTrainer flowMatching) {
        DistillationConfig cfg = config(recipe, batch);
        SessionConfig ortConfig = settings.sessionConfig(settings.threads());
        PhaseRecorder rec = new PhaseRecorder();
        try (OrtRuntime ort = OrtRuntime.create(ortConfig);
             OrtGenerator teacher = OrtGenerator.create(ort.load(graph, "teacher/model.onnx", ortConfig),
                     DenoiserBinding.builder().timestepScale(1f).pooled(FlowTransformer.POOLED_PROJECTIONS)
                             .output(FlowTransformer.OUT_HIDDEN_STATES).build(), Parameterization.VELOCITY,
                     new LatentFormat(t.latentChannels(), 1, t.patchSize()));
             StudentModules s = StudentModules.builder(graph, DenoiserSpec.inHouse()).batchSize(batch).ema(false)
                     .generatorOptimizer(cfg.generatorOptimizer()).fakeScoreOptimizer(cfg.fakeScoreOptimizer())
                     .sessionOptions(tfOptions).build();
             Discriminator d = !recipe.gan() ? null : Discriminator.forConfig(cfg, null, s.fakeScore(),
                             Tap.afterBlocks(Math.max(0, t.depth() / 2 - 1))).orElseThrow()
                     .inputShape(batch, t.latentChannels(), t.latentHeight(), t.latentWidth())
                     .heads(HeadSpec.defaults().withWidth(32)).build()) {
            List<DistillationObjective> objectives = new ArrayList<>();
            cfg.objectives().forEach(o -> objectives.add(rec.objective(o)));
            Distiller.Builder b = Distiller.builder().config(cfg).teacher(rec.teacher(teacher))
                    .generator(rec.module("generator", s.generator())).fakeScore(rec.module("fake_score", s.fakeScore()))
                    .objectives(objectives).dataset(dataset(t));
            if (d != null) {
                b.discriminator(d).augmentation(DiffAugment.geometric(), true);
            }
            Distiller distiller = b.build();
            int ttur = cfg.ttur();
            for (int i = 0; i < ttur + 1; i++) {
                distiller.step();
            }
            // start the measured cycles on a generator step
            while (distiller.iteration() % ttur != 0) {
                distiller.step();
            }
            rec.reset();
            Map<String, Long> phases = new LinkedHashMap<>();
            Map<String, Long> calls = new LinkedHashMap<>();
            List<Long> fm = new ArrayList<>();
            int n = cycles * ttur;
            for (int i = 0; i < n; i++) {
                IterationMetrics m = distiller.step();
                m.phaseNanos().forEach((k, v) -> phases.merge(k, v, Long::sum));
                rec.nanos().forEach((k, v) -> calls.merge(k, v, Long::sum)); // the recorder sees only the distiller
                rec.reset();
                fm.add(timed(flowMatching));
            }
            Map<String, Double> rows = rows(phases, calls, n);
            Samples fmSamples = samples(fm);
            settings.log("distillation %s, batch %d: %d iterations, %.0f ms per iteration; interleaved flow-matching "
                    + "steps %s", recipe.id(), batch, n, rows.get("total") / 1e6, fmSamples.describeMs());
            return new Result(recipe.id(), n, ttur, rows, rows.get("total"), PeakRss.peakBytes(), fmSamples);
        }
    }

    /** The iteration split into phases that do not overlap, each the mean per iteration. */
    static Map<String, Double> rows(Map<String, Long> phases, Map<String, Long> calls, int n) {
        Map<String, Double> r = new LinkedHashMap<>();
        java.util.function.ToDoubleFunction<String> p = k -> phases.getOrDefault(k, 0L) / (double) n;
        java.util.function.ToDoubleFunction<String> c = k -> calls.getOrDefault(k, 0L) / (double) n;
        r.put("data (batch, cached text embeddings)", p.applyAsDouble("data"));
        r.put("generator input: backward simulation (G forwards, no grad) / noising", p.applyAsDouble("backward_simulation"));
        r.put("generator forward", p.applyAsDouble("generator_forward") - c.applyAsDouble("isg/generator.forward"));
        r.put("DMD: teacher forward (CFG, 2 evaluations)", c.applyAsDouble("dmd/teacher"));
        r.put("DMD: fake-score forward", c.applyAsDouble("dmd/fake_score.forward"));
        r.put("DMD: rest (noising, gradient)", p.applyAsDouble("dmd") - c.applyAsDouble("dmd/teacher")
                - c.applyAsDouble("dmd/fake_score.forward"));
        r.put("ISG: teacher forward (CFG)", c.applyAsDouble("isg/teacher"));
        r.put("ISG: generator forward (no grad)", c.applyAsDouble("isg/generator.forward"));
        r.put("ISG: rest (segment, distance)", p.applyAsDouble("isg") - c.applyAsDouble("isg/teacher")
                - c.applyAsDouble("isg/generator.forward"));
        r.put("GAN term: discriminator input gradient", p.applyAsDouble("gan"));
        r.put("generator backward (forward recomputed + VJP)", p.applyAsDouble("generator_backward"));
        r.put("generator optimizer (clip + AdamW)", p.applyAsDouble("generator_optimizer"));
        r.put("IDA (F <- lambda F + (1 - lambda) G)", p.applyAsDouble("ida"));
        r.put("fake-score update: forward + backward", c.applyAsDouble("/fake_score.backward"));
        r.put("fake-score update: optimizer (zero, clip, AdamW)", c.applyAsDouble("/fake_score.optimizer"));
        r.put("fake-score update: rest (noising, target)", p.applyAsDouble("fake_score_update")
                - c.applyAsDouble("/fake_score.backward") - c.applyAsDouble("/fake_score.optimizer"));
        r.put("discriminator update (2 hinge passes + AdamW)", p.applyAsDouble("discriminator_update"));
        double sum = r.values().stream().mapToDouble(Double::doubleValue).sum();
        double total = p.applyAsDouble("total");
        r.put("other (checks, metrics)", total - sum);
        r.put("total", total);
        r.put("ISG (whole term)", p.applyAsDouble("isg"));
        r.put("teacher (all)", c.applyAsDouble("dmd/teacher") + c.applyAsDouble("isg/teacher"));
        return r;
    }

    // ------------------------------------------------------------------ tables

    /** @param cmp a comparison @return per phase: ms per iteration and share, for each recipe */
    public static Table phaseTable(Comparison cmp) {
        List<String> header = new ArrayList<>(List.of("phase (mean per iteration over whole TTUR cycles)"));
        for (Result r : cmp.runs()) {
            header.add(r.label() + " (ms)");
            header.add(r.label() + " (%)");
        }
        Table t = Table.of(header.toArray(new String[0]));
        for (String key : cmp.runs().get(0).phases().keySet()) {
            if (key.equals("ISG (whole term)") || key.equals("teacher (all)")) {
                continue;
            }
            List<Object> row = new ArrayList<>(List.of(key.equals("total") ? "**iteration**" : key));
            for (Result r : cmp.runs()) {
                double v = r.phases().getOrDefault(key, 0.0);
                row.add(Samples.ms(v));
                row.add(String.format(Locale.ROOT, "%.1f", 100 * v / r.iterationNanos()));
            }
            t.row(row.toArray());
        }
        return t;
    }

    /** @param comparisons per model and batch @return the iteration against a flow-matching step, IDA and ISG shares */
    public static Table ratioTable(List<Comparison> comparisons) {
        Table t = Table.of("model", "batch", "flow-matching step, interleaved (ms)", "recipe", "iteration (ms)",
                "ratio to flow-matching step (goal <= 2.5x)", "IDA share", "ISG share", "teacher share",
                "peak RSS (flow-matching module loaded too)");
        for (Comparison c : comparisons) {
            for (Result r : c.runs()) {
                t.row(c.spec().name(), c.batch(), r.flowMatching().describeMs(), r.label() + " (TTUR " + r.ttur() + ", "
                        + r.iterations() + " iterations)", Samples.ms(r.iterationNanos()),
                        String.format(Locale.ROOT, "%.2fx", r.ratio()),
                        pct(r.phases().get("IDA (F <- lambda F + (1 - lambda) G)") / r.iterationNanos()),
                        pct(r.phases().get("ISG (whole term)") / r.iterationNanos()),
                        pct(r.phases().get("teacher (all)") / r.iterationNanos()), PeakRss.mib(r.peakRss()));
            }
        }
        return t;
    }

    static String pct(double v) {
        return String.format(Locale.ROOT, "%.1f %%", 100 * v);
    }
}
