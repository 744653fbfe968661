package io.senseflow.distill;

import io.senseflow.CancelledException;
import io.senseflow.CheckpointException;
import io.senseflow.InvalidRequestException;
import io.senseflow.NumericalException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.PromptEncoder;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.RandomStream;
import io.senseflow.noise.Streams;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientReducer;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.OptimizerState;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.ParameterStore;
import io.senseflow.train.Upstream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The SenseFlow distillation loop (docs/algorithm.md §4), engine-free. Each iteration:
 *
 * <ol>
 *   <li>draws a batch and an anchor per sample, and builds the generator input by backward simulation (probability
 *       {@code p_bs}, always when the batch has no real samples) or by forward-noising real samples (§4.1);</li>
 *   <li>runs the generator: {@code v_G}, {@code x0_hat = x_i - s_i v_G};</li>
 *   <li>every {@code ttur}-th iteration: evaluates the generator objectives (DMD, ISG, GAN, or your own), adds their
 *       gradients with respect to {@code v_G}, runs one backward through the generator, clips and steps
 *       (§4.5); then applies the alignment (IDA, §4.6) and the EMA;</li>
 *   <li>updates the fake score by flow matching on {@code stopgrad(x0_hat)} (§4.7);</li>
 *   <li>updates the discriminator with the hinge loss on real vs. generated samples (§4.8), when configured.</li>
 * </ol>
 *
 * <p>All randomness derives from the config's seed, the iteration and a purpose name through the counter-based
 * noise, so {@link #snapshot()} plus the config determine everything that follows: {@link #restore} resumes
 * bit-identically on the same machine and backend.
 *
 * <p>Not thread-safe: one thread drives a run. The modules are not closed by the distiller.
 */
public final class Distiller {
    private static final Logger LOG = LoggerFactory.getLogger(Distiller.class);

    private final DistillationConfig config;
    private final Generator teacher;
    private final DifferentiableModule generator;
    private final DifferentiableModule fakeScore;
    private final DifferentiableModule discriminator;
    private final DifferentiableModule decoder;
    private final Augmentation augmentation;
    private final boolean augmentReal;
    private final DistillationDataset dataset;
    private final PromptEncoder promptEncoder;
    private final List<DistillationObjective> objectives;
    private final ParameterStore ema;
    private final List<DistillationListener> listeners = new CopyOnWriteArrayList<>();
    private final double[] anchors;
    private final boolean needsUnconditional;
    private final Map<Integer, Conditioning> uncondCache = new LinkedHashMap<>();
    private final long probeEvery;
    private TrackingProbe probe;
    private final DataShard shard;
    private final GradientReducer reducer;

    private long iteration;
    private int skippedBatches;

    private Distiller(Builder b) {
        this.config = b.config;
        this.teacher = b.teacher;
        this.generator = b.generator;
        this.fakeScore = b.fakeScore;
        this.discriminator = b.discriminator;
        this.decoder = b.decoder;
        this.augmentation = b.augmentation;
        this.augmentReal = b.augmentReal;
        this.dataset = b.dataset;
        this.promptEncoder = b.promptEncoder;
        this.objectives = List.copyOf(b.objectives != null ? b.objectives : config.objectives());
        this.ema = b.ema;
        this.listeners.addAll(b.listeners);
        this.probeEvery = b.probeEvery;
        this.shard = b.shard;
        this.reducer = b.reducer;
        this.anchors = config.anchors();
        this.needsUnconditional = (config.dmd().enabled() && config.dmd().guidance() instanceof TeacherGuidance.Cfg)
                || (config.isg().enabled() && config.isg().guidance() instanceof TeacherGuidance.Cfg);
    }

    /** @return a new builder */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the config */
    public DistillationConfig config() {
        return config;
    }

    /** @return the next iteration to run */
    public long iteration() {
        return iteration;
    }

    /** @return batches skipped so far */
    public int skippedBatches() {
        return skippedBatches;
    }

    /** @param listener called after every iteration, on the training thread */
    public void addListener(DistillationListener listener) {
        listeners.add(Objects.requireNonNull(listener));
    }

    /**
     * Runs until the config's {@code iterations}.
     *
     * @param cancellation checked before every iteration
     * @return the last iteration's metrics, or null if none ran
     */
    public IterationMetrics run(CancellationToken cancellation) {
        return runUntil(config.iterations(), cancellation);
    }

    /**
     * Runs until {@link #iteration()} reaches {@code end}.
     *
     * @param end the iteration to stop before
     * @param cancellation checked before every iteration
     * @return the last iteration's metrics, or null if none ran
     */
    public IterationMetrics runUntil(long end, CancellationToken cancellation) {
        IterationMetrics last = null;
        while (iteration < end) {
            if (cancellation.isCancelled()) {
                throw new CancelledException("distillation cancelled before iteration " + iteration);
            }
            last = step();
        }
        return last;
    }

    /** Signals that a batch is skipped under the SKIP policy. */
    private static final class SkipBatch extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SkipBatch(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Runs one iteration.
     *
     * @return its metrics
     */
    public IterationMetrics step() {
        long it = iteration;
        Map<String, Long> phases = new LinkedHashMap<>();
        Map<String, Double> losses = new LinkedHashMap<>();
        Map<String, Double> outNorms = new LinkedHashMap<>();
        Map<String, Double> paramNorms = new LinkedHashMap<>();
        Map<String, Integer> nonFinite = new LinkedHashMap<>();
        boolean genStep = it % config.ttur() == 0;
        boolean skipped = false;
        boolean backwardSim = false;
        if (probeEvery > 0 && it % probeEvery == 0) {
            long tp = System.nanoTime();
            losses.putAll(trackingProbe().measure(teacher, generator, fakeScore, config.dmd().guidance()));
            add(phases, "tracking_probe", System.nanoTime() - tp);
        }
        // the probe is a measurement, not training: "total" starts after it
        long start = System.nanoTime();
        try {
            // data
            long t0 = System.nanoTime();
            // data-parallel: the dataset's global batch, this worker's slice (DataShard)
            int globalBatch = config.batchSize();
            int batchSize = shard.localBatch(globalBatch);
            DistillationBatch globalData = dataset.batch(it, globalBatch);
            if (globalData.size() != globalBatch) {
                throw InvalidRequestException.of("dataset batch", globalBatch + " samples", globalData.size());
            }
            DistillationBatch batch = shard.slice(globalData);
            Conditioning cond = batch.conditioning() != null ? batch.conditioning() : encode(batch.prompts());
            Conditioning uncond = !needsUnconditional ? null
                    : batch.unconditional() != null ? batch.unconditional() : unconditional(batchSize);
            requireFinite(cond, "conditioning", it);
            if (uncond != null) {
                requireFinite(uncond, "unconditional conditioning", it);
            }
            if (batch.realSamples() != null) {
                requireFinite(batch.realSamples(), "data", "real samples", it);
            }
            Tensor real = batch.realSamples();
            int[] shape = sampleShape(batchSize);
            if (real != null && !Arrays.equals(real.shape(), shape)) {
                throw InvalidRequestException.of("dataset realSamples", "shape " + Arrays.toString(shape), Arrays.toString(real.shape()));
            }
            add(phases, "data", System.nanoTime() - t0);

            // §4.1 generator input
            t0 = System.nanoTime();
            RandomStream anchorRng = random("anchor", it);
            int[] globalAnchorIdx = new int[globalBatch];
            for (int b = 0; b < globalBatch; b++) {
                globalAnchorIdx[b] = anchorRng.nextInt(anchors.length);
            }
            int[] anchorIdx = shard.slice(globalAnchorIdx);
            float[] s = new float[batchSize];
            for (int b = 0; b < batchSize; b++) {
                s[b] = (float) anchors[anchorIdx[b]];
            }
            Tensor eps = noise("input.noise", it, shape);
            backwardSim = real == null || random("backward_simulation", it).nextUniform() < config.backwardSimulation();
            Tensor x;
            if (backwardSim) {
                x = backwardSimulate(teacher.pureNoiseState(eps, anchors[0]), anchorIdx, cond, it, shape);
            } else {
                float[] oneMinus = new float[batchSize];
                for (int b = 0; b < batchSize; b++) {
                    oneMinus[b] = 1 - s[b];
                }
                x = Tensor.combine(oneMinus, real, s, eps);
            }
            add(phases, "backward_simulation", System.nanoTime() - t0);

            t0 = System.nanoTime();
            ModuleInputs genInputs = ModuleInputs.denoiser(x, s, cond);
            Tensor vG = generator.forward(genInputs);
            add(phases, "generator_forward", System.nanoTime() - t0);
            requireFinite(x, "generator input", "generator input x_i (after " + (backwardSim ? "backward simulation" : "forward noising") + ")", it);
            requireFinite(vG, "generator forward", "generator output v_G", it);
            float[] minusS = GeneratorContext.negate(s);
            Tensor x0hat = Tensor.combine(GeneratorContext.ones(batchSize), x, minusS, vG);

            // §4.2-4.6 generator update
            if (genStep) {
                GeneratorContext.GanPath gan = discriminator == null ? null
                        : new GeneratorContext.GanPath(discriminator, decoder, augmentation);
                GeneratorContext ctx = new GeneratorContext(it, config.seed(), anchors, anchorIdx, x, vG, cond, uncond,
                        real, teacher, generator, fakeScore, gan, (k, v) -> add(phases, k, v))
                        .dataParallel(shard, globalAnchorIdx);
                Tensor total = null;
                for (DistillationObjective o : objectives) {
                    long ot = System.nanoTime();
                    ObjectiveTerm term = o.evaluate(ctx);
                    add(phases, o.name(), System.nanoTime() - ot);
                    losses.put(o.name(), term.loss());
                    nonFinite.put(o.name(), term.nonFinite());
                    requireFinite(term.loss(), "generator update", "objective '" + o.name() + "' loss", it);
                    requireFinite(term.gradient(), "generator update", "objective '" + o.name() + "' gradient dL/dv_G", it);
                    outNorms.put(o.name(), term.gradientNorm());
                    total = total == null ? term.gradient() : total.add(term.gradient());
                }
                t0 = System.nanoTime();
                generator.optimizer().zeroGradients();
                generator.backward(genInputs, Upstream.explicit(total), GradientMode.PARAMETERS);
                add(phases, "generator_backward", System.nanoTime() - t0);
                reduce("generator", generator, it, phases);
                t0 = System.nanoTime();
                double norm = generator.optimizer().clipGradientNorm(config.generatorOptimizer().clipNorm());
                paramNorms.put("generator", norm);
                requireFinite(norm, "generator update", "generator parameter gradient norm", it);
                generator.optimizer().step();
                add(phases, "generator_optimizer", System.nanoTime() - t0);
                if (config.ida().enabled()) {
                    t0 = System.nanoTime();
                    fakeScore.parameters().blendFrom(generator.parameters(), config.ida().lambda());
                    add(phases, "ida", System.nanoTime() - t0);
                }
                if (ema != null && config.emaDecay() > 0) {
                    t0 = System.nanoTime();
                    ema.blendFrom(generator.parameters(), config.emaDecay());
                    add(phases, "ema", System.nanoTime() - t0);
                }
            }

            // §4.7 fake score
            t0 = System.nanoTime();
            double[] sf = shard.sample(config.fakeScoreTimesteps().sampler(), globalBatch, random("fake_score.sigma", it));
            float[] sfF = new float[batchSize];
            float[] oneMinusF = new float[batchSize];
            for (int b = 0; b < batchSize; b++) {
                sfF[b] = (float) sf[b];
                oneMinusF[b] = 1 - sfF[b];
            }
            Tensor epsF = noise("fake_score.noise", it, shape);
            Tensor xs = Tensor.combine(oneMinusF, x0hat, sfF, epsF);
            Tensor target = epsF.sub(x0hat);
            fakeScore.optimizer().zeroGradients();
            BackwardResult fr = fakeScore.backward(ModuleInputs.denoiser(xs, sfF, cond), Upstream.mse(target, null),
                    GradientMode.PARAMETERS);
            losses.put("fake_score", fr.loss());
            reduce("fake_score", fakeScore, it, phases);
            requireFinite(fr.loss(), "fake score update", "fake score loss", it);
            double fnorm = fakeScore.optimizer().clipGradientNorm(config.fakeScoreOptimizer().clipNorm());
            paramNorms.put("fake_score", fnorm);
            requireFinite(fnorm, "fake score update", "fake score parameter gradient norm", it);
            fakeScore.optimizer().step();
            add(phases, "fake_score_update", System.nanoTime() - t0);

            // §4.8 discriminator
            if (discriminator != null && config.gan().enabled() && real != null) {
                t0 = System.nanoTime();
                float[] omega = config.gan().weighting().omega(s);
                Tensor realImages = decoder == null ? real : decoder.forward(ModuleInputs.of(real, null));
                Tensor fakeImages = decoder == null ? x0hat : decoder.forward(ModuleInputs.of(x0hat, null));
                if (decoder != null) {
                    requireFinite(realImages, "discriminator update", "decoder output (real samples)", it);
                    requireFinite(fakeImages, "discriminator update", "decoder output (generated samples)", it);
                }
                if (augmentReal) {
                    realImages = augmentation.apply(realImages, random("discriminator.augment_real", it)).output();
                }
                fakeImages = augmentation.apply(fakeImages, random("discriminator.augment_fake", it)).output();
                discriminator.optimizer().zeroGradients();
                ModuleInputs realIn = RandomInputs.complete(discriminator, ModuleInputs.of(realImages, cond),
                        random("discriminator.inputs_real", it));
                ModuleInputs fakeIn = RandomInputs.complete(discriminator, ModuleInputs.of(fakeImages, cond),
                        random("discriminator.inputs_fake", it));
                BackwardResult rr = discriminator.backward(realIn, Upstream.hinge(1, omega), GradientMode.PARAMETERS);
                BackwardResult rf = discriminator.backward(fakeIn, Upstream.hinge(-1, omega), GradientMode.PARAMETERS);
                losses.put("discriminator_real", rr.loss());
                losses.put("discriminator_fake", rf.loss());
                reduce("discriminator", discriminator, it, phases);
                requireFinite(rr.loss(), "discriminator update", "discriminator loss on real samples", it);
                requireFinite(rf.loss(), "discriminator update", "discriminator loss on generated samples", it);
                double dnorm = discriminator.optimizer().clipGradientNorm(config.discriminatorOptimizer().clipNorm());
                paramNorms.put("discriminator", dnorm);
                requireFinite(dnorm, "discriminator update", "discriminator parameter gradient norm", it);
                discriminator.optimizer().step();
                add(phases, "discriminator_update", System.nanoTime() - t0);
            }
        } catch (SkipBatch e) {
            skipped = true;
            skippedBatches++;
            LOG.warn("iteration {}: batch skipped ({} of at most {}): {}", it, skippedBatches, config.maxSkips(), e.getMessage());
            if (skippedBatches > config.maxSkips()) {
                throw new NumericalException("stopping after " + skippedBatches + " skipped batches (maxSkips "
                        + config.maxSkips() + "); last: " + e.getMessage());
            }
        }
        iteration = it + 1;
        phases.put("total", System.nanoTime() - start);
        IterationMetrics m = new IterationMetrics(it, genStep && !skipped, backwardSim, losses, outNorms, paramNorms,
                nonFinite, phases, skipped);
        for (DistillationListener l : listeners) {
            l.onIteration(m);
        }
        return m;
    }

    /**
     * The fixed probe batch of {@link Builder#trackingProbe}: the prompts of the dataset's batch 0 and the probe's own
     * noise. Built on first use.
     */
    private TrackingProbe trackingProbe() {
        if (probe == null) {
            int batchSize = config.batchSize();
            DistillationBatch batch = dataset.batch(0, batchSize);
            Conditioning cond = batch.conditioning() != null ? batch.conditioning() : encode(batch.prompts());
            Conditioning uncond = !(config.dmd().guidance() instanceof TeacherGuidance.Cfg) ? null
                    : batch.unconditional() != null ? batch.unconditional() : unconditional(batchSize);
            probe = new TrackingProbe(config.seed(), anchors, cond, uncond, dataset.sampleShape(),
                    config.dmd().noiseLevels().sampler());
        }
        return probe;
    }

    private Tensor backwardSimulate(Tensor start, int[] anchorIdx, Conditioning cond, long it, int[] shape) {
        int batch = anchorIdx.length;
        int maxI = 0;
        for (int i : anchorIdx) {
            maxI = Math.max(maxI, i);
        }
        Tensor x = start;
        for (int j = 0; j < maxI; j++) {
            float[] sj = new float[batch];
            Arrays.fill(sj, (float) anchors[j]);
            Tensor v = generator.forward(ModuleInputs.denoiser(x, sj, cond));
            requireFinite(v, "backward simulation", "generator output v_G at anchor " + j + " (s = " + anchors[j] + ")", it);
            Tensor x0 = x.addScaled((float) -anchors[j], v);
            float next = (float) anchors[j + 1];
            Tensor renoised = Tensor.combine(1 - next, x0, next, noise("backward_simulation.noise." + j, it, shape));
            // samples whose anchor is already reached keep their state
            float[] keep = new float[batch];
            float[] take = new float[batch];
            for (int b = 0; b < batch; b++) {
                boolean advance = anchorIdx[b] > j;
                keep[b] = advance ? 0f : 1f;
                take[b] = advance ? 1f : 0f;
            }
            x = Tensor.combine(keep, x, take, renoised);
        }
        return x;
    }

    private Conditioning encode(List<String> prompts) {
        if (promptEncoder == null) {
            throw new InvalidRequestException("the dataset gives prompts without cached conditioning: set a prompt encoder");
        }
        return promptEncoder.encode(prompts);
    }

    private Conditioning unconditional(int batch) {
        return uncondCache.computeIfAbsent(batch, n -> {
            if (promptEncoder == null) {
                throw new InvalidRequestException("cfg guidance needs unconditional embeddings: set a prompt encoder"
                        + " or give cached unconditional conditioning in the dataset");
            }
            return promptEncoder.encodeNegative(Collections.nCopies(n, ""));
        });
    }

    private int[] sampleShape(int batch) {
        int[] per = dataset.sampleShape();
        int[] s = new int[per.length + 1];
        s[0] = batch;
        System.arraycopy(per, 0, s, 1, per.length);
        return s;
    }

    /**
     * The data-parallel gradient mean of one module; its time is the phase {@code "allreduce"} (data-parallel runs
     * only; the fake score's and discriminator's reductions also lie inside their update phases).
     */
    private void reduce(String name, DifferentiableModule m, long it, Map<String, Long> phases) {
        long t0 = System.nanoTime();
        reducer.allReduceMean(name, m, it);
        if (shard.size() > 1) {
            add(phases, "allreduce", System.nanoTime() - t0);
        }
    }

    private Tensor noise(String purpose, long it, int[] shape) {
        return GaussianNoise.sample(config.seed(), shard.sampleOffset(it, config.batchSize()), streamId(purpose), shape);
    }

    private RandomStream random(String purpose, long it) {
        return new RandomStream(config.seed(), streamId(purpose), it);
    }

    /**
     * The noise stream of a purpose: a fixed function of its name (Java's specified {@code String.hashCode}).
     *
     * @param purpose the purpose name
     * @return the stream id
     */
    static int streamId(String purpose) {
        return Streams.TRAINING_BASE + Math.floorMod(purpose.hashCode(), 1 << 19);
    }

    private static void add(Map<String, Long> phases, String key, long nanos) {
        phases.merge(key, nanos, Long::sum);
    }

    private void requireFinite(double value, String phase, String what, long it) {
        if (!Double.isFinite(value)) {
            fail(phase, what, "is " + value, it);
        }
    }

    private void requireFinite(Tensor t, String phase, String what, long it) {
        int bad = t.countNonFinite();
        if (bad > 0) {
            fail(phase, what, "has " + bad + " NaN/Inf of " + t.size() + " values", it);
        }
    }

    private void requireFinite(Conditioning c, String what, long it) {
        requireFinite(c.tokens(), "data", what + " (token embeddings)", it);
        if (c.pooled() != null) {
            requireFinite(c.pooled(), "data", what + " (pooled embedding)", it);
        }
        for (Map.Entry<String, Tensor> e : c.extras().entrySet()) {
            requireFinite(e.getValue(), "data", what + " extra '" + e.getKey() + "'", it);
        }
    }

    /** STOP: a NumericalException naming phase, iteration and tensor; SKIP: the rest of the iteration is skipped. */
    private void fail(String phase, String what, String problem, long it) {
        NumericalException e = NumericalException.nonFinite("distillation: " + phase, "iteration " + it, what, problem);
        if (config.nonFinite() == DistillationConfig.NonFinitePolicy.SKIP) {
            throw new SkipBatch(e.getMessage());
        }
        throw e;
    }

    // ------------------------------------------------------------------ checkpoints

    /** @return everything an exact resume needs */
    public TrainingSnapshot snapshot() {
        Map<String, Map<String, Tensor>> params = new LinkedHashMap<>();
        Map<String, OptimizerState> opts = new LinkedHashMap<>();
        params.put("generator", generator.parameters().snapshot());
        opts.put("generator", generator.optimizer().state());
        params.put("fake_score", fakeScore.parameters().snapshot());
        opts.put("fake_score", fakeScore.optimizer().state());
        if (discriminator != null) {
            params.put("discriminator", discriminator.parameters().snapshot());
            opts.put("discriminator", discriminator.optimizer().state());
        }
        if (ema != null) {
            params.put("ema", ema.snapshot());
        }
        return new TrainingSnapshot(iteration, skippedBatches, config.toJson(), params, opts);
    }

    /**
     * Restores a snapshot taken from a run with the same config and architectures.
     *
     * @param snapshot the snapshot
     * @throws CheckpointException if it belongs to another config or architecture
     */
    public void restore(TrainingSnapshot snapshot) {
        if (!snapshot.configJson().equals(config.toJson())) {
            throw new CheckpointException("checkpoint was written by a run with another config; resume with the same"
                    + " config (the checkpoint's config is saved with it)");
        }
        restoreModule("generator", generator.parameters(), snapshot);
        restoreModule("fake_score", fakeScore.parameters(), snapshot);
        generator.optimizer().restore(requireState(snapshot, "generator"));
        fakeScore.optimizer().restore(requireState(snapshot, "fake_score"));
        if (discriminator != null) {
            restoreModule("discriminator", discriminator.parameters(), snapshot);
            discriminator.optimizer().restore(requireState(snapshot, "discriminator"));
        }
        if (ema != null) {
            restoreModule("ema", ema, snapshot);
        }
        iteration = snapshot.iteration();
        skippedBatches = snapshot.skippedBatches();
    }

    private static OptimizerState requireState(TrainingSnapshot s, String module) {
        OptimizerState st = s.optimizers().get(module);
        if (st == null) {
            throw new CheckpointException("checkpoint has no optimizer state for module '" + module + "'");
        }
        return st;
    }

    private static void restoreModule(String module, ParameterStore store, TrainingSnapshot s) {
        Map<String, Tensor> values = s.parameters().get(module);
        if (values == null) {
            throw new CheckpointException("checkpoint has no parameters for module '" + module + "'");
        }
        for (ParameterSpec p : store.specs()) {
            Tensor t = values.get(p.name());
            if (t == null || !Arrays.equals(t.shape(), p.shape())) {
                throw new CheckpointException("checkpoint module '" + module + "': parameter " + p + " expected, found "
                        + (t == null ? "none" : Arrays.toString(t.shape())) + " (a checkpoint of another architecture?)");
            }
        }
        if (values.size() != store.specs().size()) {
            throw new CheckpointException("checkpoint module '" + module + "' has " + values.size() + " parameters, the"
                    + " module has " + store.specs().size());
        }
        for (ParameterSpec p : store.specs()) {
            store.write(p.name(), values.get(p.name()));
        }
    }

    /** Builder for {@link Distiller}. */
    public static final class Builder {
        private DistillationConfig config;
        private Generator teacher;
        private DifferentiableModule generator;
        private DifferentiableModule fakeScore;
        private DifferentiableModule discriminator;
        private DifferentiableModule decoder;
        private Augmentation augmentation = Augmentation.none();
        private boolean augmentReal;
        private DistillationDataset dataset;
        private PromptEncoder promptEncoder;
        private List<DistillationObjective> objectives;
        private ParameterStore ema;
        private final List<DistillationListener> listeners = new ArrayList<>();
        private long probeEvery;
        private DataShard shard = DataShard.single();
        private GradientReducer reducer = GradientReducer.none();

        /**
         * Makes this distiller one worker of a data-parallel run: it computes the {@code shard}'s slice of every
         * global batch ({@code config.batchSize()} is the global batch) and calls {@code reducer} on each module's
         * gradients right after its backward passes, before the clip. Every worker must be built with the same
         * config, modules and initial parameters.
         *
         * <p>Not supported (refused by {@link #build()}): a GAN term, whose augmentation and discriminator input
         * draws are not sharded yet.
         *
         * @param shard this worker's part of the batch
         * @param reducer averages gradients over the workers
         * @return this
         */
        public Builder dataParallel(DataShard shard, GradientReducer reducer) {
            this.shard = Objects.requireNonNull(shard, "shard");
            this.reducer = Objects.requireNonNull(reducer, "reducer");
            return this;
        }

        /**
         * Measures the {@link TrackingProbe} (does the fake score track the generator?) before every {@code every}-th
         * iteration, iteration 0 included; its metrics join that iteration's {@link IterationMetrics#losses()} under
         * {@link TrackingProbe#PREFIX}. Forward passes only: the run's results do not change.
         *
         * @param every iterations between measurements; 0 (the default) for none
         * @return this
         */
        public Builder trackingProbe(long every) {
            if (every < 0) {
                throw InvalidRequestException.of("trackingProbe", "0 (off) or more iterations", every);
            }
            probeEvery = every;
            return this;
        }

        /** @param c the config @return this */
        public Builder config(DistillationConfig c) {
            config = c;
            return this;
        }

        /** @param t the frozen teacher (forward only; ONNX Runtime or any backend) @return this */
        public Builder teacher(Generator t) {
            teacher = t;
            return this;
        }

        /** @param g the generator G (trainable, initialised from the teacher) @return this */
        public Builder generator(DifferentiableModule g) {
            generator = g;
            return this;
        }

        /** @param f the fake score F (trainable, same architecture as G when IDA is on) @return this */
        public Builder fakeScore(DifferentiableModule f) {
            fakeScore = f;
            return this;
        }

        /** @param d the discriminator (trainable heads), or null @return this */
        public Builder discriminator(DifferentiableModule d) {
            discriminator = d;
            return this;
        }

        /** @param d the frozen decoder in front of the discriminator (latent models), or null @return this */
        public Builder decoder(DifferentiableModule d) {
            decoder = d;
            return this;
        }

        /**
         * @param a the differentiable augmentation before the discriminator
         * @param alsoOnReal apply it to real samples too
         * @return this
         */
        public Builder augmentation(Augmentation a, boolean alsoOnReal) {
            augmentation = Objects.requireNonNull(a);
            augmentReal = alsoOnReal;
            return this;
        }

        /** @param d the data @return this */
        public Builder dataset(DistillationDataset d) {
            dataset = d;
            return this;
        }

        /** @param e encodes prompts (and the empty negative prompt for cfg) @return this */
        public Builder promptEncoder(PromptEncoder e) {
            promptEncoder = e;
            return this;
        }

        /** @param list generator objectives replacing the config's (DMD/ISG/GAN) @return this */
        public Builder objectives(List<DistillationObjective> list) {
            objectives = new ArrayList<>(list);
            return this;
        }

        /** @param store a store of G's architecture that receives the EMA (initialised from G) @return this */
        public Builder ema(ParameterStore store) {
            ema = store;
            return this;
        }

        /** @param l a listener @return this */
        public Builder listener(DistillationListener l) {
            listeners.add(l);
            return this;
        }

        /** @return the distiller */
        public Distiller build() {
            if (config == null) {
                throw InvalidRequestException.of("config", "a DistillationConfig", "none");
            }
            if (teacher == null || generator == null || fakeScore == null || dataset == null) {
                throw new InvalidRequestException("Distiller needs a teacher, a generator, a fake score and a dataset;"
                        + " missing: " + (teacher == null ? "teacher " : "") + (generator == null ? "generator " : "")
                        + (fakeScore == null ? "fakeScore " : "") + (dataset == null ? "dataset" : ""));
            }
            if (!generator.trainable() || !fakeScore.trainable()) {
                throw new InvalidRequestException("generator and fake score must be trainable modules (with optimizers)");
            }
            if (config.ida().enabled()) {
                ParameterStore.requireSameArchitecture(fakeScore.parameters(), generator.parameters(), "IDA (ida.enabled)");
            }
            if (config.gan().enabled() && discriminator == null && (objectives == null
                    || objectives.stream().anyMatch(o -> o instanceof AdversarialLoss))) {
                throw new InvalidRequestException("gan.enabled is true but no discriminator was given");
            }
            if (discriminator != null && !discriminator.trainable()) {
                throw new InvalidRequestException("the discriminator must have trainable heads (an optimizer)");
            }
            if (config.gan().enabled() && config.gan().discriminator() == DiscriminatorKind.FAKE_SCORE_FEATURES
                    && decoder != null) {
                throw InvalidRequestException.of("decoder", "none with gan.discriminator fake-score-features (it looks"
                        + " at the generator's samples, as the fake score does, not at decoded images)", "a decoder");
            }
            if (shard.size() > 1) {
                shard.localBatch(config.batchSize());
                if (config.gan().enabled() || discriminator != null) {
                    throw InvalidRequestException.of("gan.enabled", "false in a data-parallel run (the GAN term's"
                            + " augmentation and discriminator-input draws are not sharded yet)", "a GAN term or discriminator");
                }
                if (probeEvery > 0) {
                    throw InvalidRequestException.of("trackingProbe", "0 in a data-parallel run", probeEvery);
                }
            }
            if (ema != null) {
                ParameterStore.requireSameArchitecture(ema, generator.parameters(), "EMA");
                ema.copyFrom(generator.parameters());
            }
            return new Distiller(this);
        }
    }
}
