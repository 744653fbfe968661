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
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.GradientMode;
import io.senseflow.train.GradientReducer;
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
 * The SenseFlow distillation loop (docs/algorithm.md §4), engine-free. Each iteration ({@link #step()}):
 *
 * <ol>
 *   <li>draws a batch and an anchor per sample, and builds the generator input by backward simulation (probability
 *       {@code p_bs}, always when the batch has no real samples) or by forward-noising real samples (§4.1);</li>
 *   <li>runs the generator: {@code v_G}, {@code x0_hat = x_i - s_i v_G};</li>
 *   <li>{@code generatorUpdate}, every {@code ttur}-th iteration: evaluates the generator objectives (DMD, ISG, GAN,
 *       or your own), adds their gradients with respect to {@code v_G}, runs one backward through the generator,
 *       clips and steps (§4.5); then the {@link ImplicitDistributionAlignment} (§4.6) and the EMA;</li>
 *   <li>{@code fakeScoreUpdate}: flow matching on {@code stopgrad(x0_hat)} (§4.7);</li>
 *   <li>{@code discriminatorUpdate}: the hinge loss on real vs. generated samples (§4.8), when configured.</li>
 * </ol>
 *
 * <p>The flow identities ({@code x_s = (1 - s) x0 + s eps}, {@code x0 = x - s v}, the target {@code eps - x0}) are
 * {@link FlowIdentities}; timings, metrics and finiteness checks live in a per-iteration log beside the updates.
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
    private final ImplicitDistributionAlignment ida;
    private final TimestepSampler fakeScoreLevels;
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
        this.ida = ImplicitDistributionAlignment.of(config.ida());
        this.fakeScoreLevels = b.fakeScoreLevels != null ? b.fakeScoreLevels : config.fakeScoreTimesteps().sampler();
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

    /**
     * Runs one iteration: the batch, the generator's input and output, then the three updates of
     * docs/algorithm.md §4 in order, {@code generatorUpdate} (every {@code ttur}-th iteration), {@code fakeScoreUpdate}
     * and {@code discriminatorUpdate} (when a discriminator and real samples are there).
     *
     * @return its metrics
     */
    public IterationMetrics step() {
        long it = iteration;
        IterationLog log = new IterationLog(it, config.nonFinite());
        boolean genStep = it % config.ttur() == 0;
        boolean skipped = false;
        boolean backwardSim = false;
        if (probeEvery > 0 && it % probeEvery == 0) {
            log.time("tracking_probe", () -> log.losses.putAll(trackingProbe().measure(teacher, generator, fakeScore,
                    config.dmd().guidance())));
        }
        // the probe is a measurement, not training: "total" starts after it
        long start = System.nanoTime();
        try {
            Batch batch = log.time("data", () -> batch(it, log));
            backwardSim = batch.real == null || random("backward_simulation", it).nextUniform()
                    < config.backwardSimulation();
            boolean simulate = backwardSim;
            GeneratorInput in = log.time("backward_simulation", () -> generatorInput(batch, simulate, it, log));
            Tensor vG = log.time("generator_forward", () -> generator.forward(in.modules()));
            log.requireFinite(in.x(), "generator input", "generator input x_i (after "
                    + (backwardSim ? "backward simulation" : "forward noising") + ")");
            log.requireFinite(vG, "generator forward", "generator output v_G");
            Tensor x0hat = FlowIdentities.clean(in.x(), in.s(), vG);
            if (genStep) {
                generatorUpdate(batch, in, vG, log);
            }
            fakeScoreUpdate(batch, x0hat, log);
            if (discriminator != null && config.gan().enabled() && batch.real != null) {
                discriminatorUpdate(batch, in.s(), x0hat, log);
            }
        } catch (IterationLog.SkipBatch e) {
            skipped = true;
            skippedBatches++;
            LOG.warn("iteration {}: batch skipped ({} of at most {}): {}", it, skippedBatches, config.maxSkips(), e.getMessage());
            if (skippedBatches > config.maxSkips()) {
                throw new NumericalException("stopping after " + skippedBatches + " skipped batches (maxSkips "
                        + config.maxSkips() + "); last: " + e.getMessage());
            }
        }
        iteration = it + 1;
        log.phases.put("total", System.nanoTime() - start);
        IterationMetrics m = new IterationMetrics(it, genStep && !skipped, backwardSim, log.losses,
                log.outputGradientNorms, log.parameterGradientNorms, log.nonFinite, log.phases, skipped);
        for (DistillationListener l : listeners) {
            l.onIteration(m);
        }
        return m;
    }

    /**
     * One iteration's data: conditioning (and unconditional when guidance needs it), real samples or null, per-sample
     * guidance scales or null.
     */
    private record Batch(long iteration, int size, int[] shape, Conditioning cond, Conditioning uncond, Tensor real,
                         float[] guidance) {
    }

    /** The generator's input {@code x_i} at the anchors {@code s_i} it was built for. */
    private record GeneratorInput(int[] anchorIndex, int[] globalAnchorIndex, float[] s, Tensor x,
                                  ModuleInputs modules) {
    }

    /** Draws, encodes and checks the iteration's batch. */
    private Batch batch(long it, IterationLog log) {
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
        log.requireFinite(cond, "conditioning");
        if (uncond != null) {
            log.requireFinite(uncond, "unconditional conditioning");
        }
        Tensor real = batch.realSamples();
        if (real != null) {
            log.requireFinite(real, "data", "real samples");
        }
        int[] shape = sampleShape(batchSize);
        if (real != null && !Arrays.equals(real.shape(), shape)) {
            throw InvalidRequestException.of("dataset realSamples", "shape " + Arrays.toString(shape), Arrays.toString(real.shape()));
        }
        return new Batch(it, batchSize, shape, cond, uncond, real, batch.guidance());
    }

    /**
     * §4.1: an anchor per sample, then {@code x_i} by backward simulation from pure noise, or by forward-noising the
     * real samples {@code x_i = (1 - s_i) x_real + s_i eps}.
     */
    private GeneratorInput generatorInput(Batch batch, boolean simulate, long it, IterationLog log) {
        // anchors are drawn for the whole global batch; a data-parallel worker takes its slice
        RandomStream anchorRng = random("anchor", it);
        int[] globalAnchorIdx = new int[config.batchSize()];
        for (int b = 0; b < globalAnchorIdx.length; b++) {
            globalAnchorIdx[b] = anchorRng.nextInt(anchors.length);
        }
        int[] anchorIdx = shard.slice(globalAnchorIdx);
        float[] s = new float[batch.size];
        for (int b = 0; b < batch.size; b++) {
            s[b] = (float) anchors[anchorIdx[b]];
        }
        Tensor eps = noise("input.noise", it, batch.shape);
        Tensor x = simulate
                ? backwardSimulate(teacher.pureNoiseState(eps, anchors[0]), anchorIdx, batch.cond, it, batch.shape, log)
                : FlowIdentities.noised(batch.real, s, eps);
        return new GeneratorInput(anchorIdx, globalAnchorIdx, s, x, ModuleInputs.denoiser(x, s, batch.cond));
    }

    /**
     * §4.2-4.6, the generator update: every objective (DMD, ISG, GAN or the caller's) gives its loss and its gradient
     * with respect to {@code v_G}; their sum goes back through G in one backward pass; G steps; then IDA aligns the
     * fake score with the stepped G, and the EMA follows G.
     */
    private void generatorUpdate(Batch batch, GeneratorInput in, Tensor vG, IterationLog log) {
        GeneratorContext.GanPath gan = discriminator == null ? null
                : new GeneratorContext.GanPath(discriminator, decoder, augmentation);
        GeneratorContext ctx = new GeneratorContext(batch.iteration, config.seed(), anchors, in.anchorIndex(), in.x(),
                vG, batch.cond, batch.uncond, batch.real, teacher, generator, fakeScore, gan, log::addTime)
                .guidanceScales(batch.guidance()).dataParallel(shard, in.globalAnchorIndex());
        Tensor dLdv = null;
        for (DistillationObjective o : objectives) {
            ObjectiveTerm term = log.time(o.name(), () -> o.evaluate(ctx));
            log.term(term, o.name());
            dLdv = dLdv == null ? term.gradient() : dLdv.add(term.gradient());
        }
        Tensor upstream = dLdv;
        log.time("generator_backward", () -> {
            generator.optimizer().zeroGradients();
            generator.backward(in.modules(), Upstream.explicit(upstream), GradientMode.PARAMETERS);
        });
        log.time("generator_optimizer", () -> clipAndStep(generator, "generator", "generator",
                config.generatorOptimizer().clipNorm(), "generator update", log));
        if (ida != null) {
            log.time("ida", () -> ida.align(fakeScore.parameters(), generator.parameters()));
        }
        if (ema != null && config.emaDecay() > 0) {
            log.time("ema", () -> ema.blendFrom(generator.parameters(), config.emaDecay()));
        }
    }

    /**
     * §4.7, the fake-score update: flow matching on the generator's samples, {@code x0 = stopgrad(x0_hat)},
     * {@code x_s = (1 - s) x0 + s eps}, {@code L_F = mean((F(x_s, s, c) - (eps - x0))^2)}.
     */
    private void fakeScoreUpdate(Batch batch, Tensor x0hat, IterationLog log) {
        log.time("fake_score_update", () -> {
            long it = batch.iteration;
            double[] drawn = shard.sample(fakeScoreLevels, config.batchSize(), random("fake_score.sigma", it));
            float[] s = new float[batch.size];
            for (int b = 0; b < batch.size; b++) {
                s[b] = (float) drawn[b];
            }
            Tensor eps = noise("fake_score.noise", it, batch.shape);
            Tensor xs = FlowIdentities.noised(x0hat, s, eps);
            Tensor target = FlowIdentities.velocityTarget(x0hat, eps);
            fakeScore.optimizer().zeroGradients();
            BackwardResult r = fakeScore.backward(ModuleInputs.denoiser(xs, s, batch.cond), Upstream.mse(target, null),
                    GradientMode.PARAMETERS);
            log.loss("fake_score", r.loss(), "fake score update", "fake score loss");
            clipAndStep(fakeScore, "fake_score", "fake score", config.fakeScoreOptimizer().clipNorm(),
                    "fake score update", log);
        });
    }

    /**
     * §4.8, the discriminator update: hinge loss on real against generated samples (decoded and augmented as the
     * generator's GAN term sees them), each weighted by {@code omega(s_i)}.
     */
    private void discriminatorUpdate(Batch batch, float[] s, Tensor x0hat, IterationLog log) {
        log.time("discriminator_update", () -> {
            long it = batch.iteration;
            float[] omega = config.gan().weighting().omega(s);
            Tensor realImages = decoder == null ? batch.real : decoder.forward(ModuleInputs.of(batch.real, null));
            Tensor fakeImages = decoder == null ? x0hat : decoder.forward(ModuleInputs.of(x0hat, null));
            if (decoder != null) {
                log.requireFinite(realImages, "discriminator update", "decoder output (real samples)");
                log.requireFinite(fakeImages, "discriminator update", "decoder output (generated samples)");
            }
            if (augmentReal) {
                realImages = augmentation.apply(realImages, random("discriminator.augment_real", it)).output();
            }
            fakeImages = augmentation.apply(fakeImages, random("discriminator.augment_fake", it)).output();
            discriminator.optimizer().zeroGradients();
            ModuleInputs realIn = RandomInputs.complete(discriminator, ModuleInputs.of(realImages, batch.cond),
                    random("discriminator.inputs_real", it));
            ModuleInputs fakeIn = RandomInputs.complete(discriminator, ModuleInputs.of(fakeImages, batch.cond),
                    random("discriminator.inputs_fake", it));
            BackwardResult rr = discriminator.backward(realIn, Upstream.hinge(1, omega), GradientMode.PARAMETERS);
            BackwardResult rf = discriminator.backward(fakeIn, Upstream.hinge(-1, omega), GradientMode.PARAMETERS);
            log.losses.put("discriminator_real", rr.loss());
            log.losses.put("discriminator_fake", rf.loss());
            log.requireFinite(rr.loss(), "discriminator update", "discriminator loss on real samples");
            log.requireFinite(rf.loss(), "discriminator update", "discriminator loss on generated samples");
            clipAndStep(discriminator, "discriminator", "discriminator", config.discriminatorOptimizer().clipNorm(),
                    "discriminator update", log);
        });
    }

    /**
     * The one place where a module's accumulated parameter gradients become an optimiser step, for G, F and D alike:
     * clip to the global norm, record and check the norm, step. A data-parallel run reduces the gradients across
     * workers here, before the clip, so every worker clips and steps on the same sum.
     *
     * @param module the module
     * @param key its metrics key ({@link IterationMetrics#parameterGradientNorms()})
     * @param label its name in error messages
     */
    private void clipAndStep(DifferentiableModule module, String key, String label, double clipNorm, String phase,
                             IterationLog log) {
        // data parallelism: the mean of the module's parameter gradients over the workers, before the clip
        long t0 = System.nanoTime();
        reducer.allReduceMean(key, module, log.iteration());
        if (shard.size() > 1) {
            log.addTime("allreduce", System.nanoTime() - t0);
        }
        double norm = module.optimizer().clipGradientNorm(clipNorm);
        log.parameterGradientNorms.put(key, norm);
        log.requireFinite(norm, phase, label + " parameter gradient norm");
        module.optimizer().step();
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

    /**
     * §4.1 backward simulation: from pure noise, the generator's own stochastic sampler through the anchors before each
     * sample's {@code i} ({@code x0 = x - s_j v}, {@code x = (1 - s_{j+1}) x0 + s_{j+1} eps}); samples whose anchor is
     * reached keep their state.
     */
    private Tensor backwardSimulate(Tensor start, int[] anchorIdx, Conditioning cond, long it, int[] shape,
                                    IterationLog log) {
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
            log.requireFinite(v, "backward simulation", "generator output v_G at anchor " + j + " (s = " + anchors[j] + ")");
            Tensor x0 = FlowIdentities.clean(x, (float) anchors[j], v);
            Tensor renoised = FlowIdentities.noised(x0, (float) anchors[j + 1], noise("backward_simulation.noise." + j,
                    it, shape));
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
        store.writeAll(values);
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
        private boolean augmented;
        private boolean augmentReal;
        private DistillationDataset dataset;
        private PromptEncoder promptEncoder;
        private List<DistillationObjective> objectives;
        private ParameterStore ema;
        private TimestepSampler fakeScoreLevels;
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
         * <p>A GAN term is supported when it makes no per-sample draws: no {@link #augmentation} and a
         * discriminator that draws no inputs of its own (not a {@link RandomInputs}), e.g. an MLP head; then every
         * GAN and discriminator loss is a per-sample mean of sharded inputs and the mean of the workers' gradients is
         * the global batch's. Not supported (refused by {@link #build()}): an augmentation or a discriminator with
         * random inputs (their draws are not sharded yet), and the tracking probe.
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
            augmented = true;
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

        /**
         * Replaces the config's fake-score noise-level distribution ({@code fakeScoreTimesteps}, docs/algorithm.md
         * §4.7) with your own sampler. It draws from the iteration's {@code fake_score.sigma} stream, so runs stay
         * reproducible; like {@link #objectives}, it is not part of the config's JSON, so a resumed run must be built
         * with the same sampler.
         *
         * @param sampler the sampler, or null for the config's
         * @return this
         */
        public Builder fakeScoreTimesteps(TimestepSampler sampler) {
            fakeScoreLevels = sampler;
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
                ImplicitDistributionAlignment.requireCompatible(fakeScore.parameters(), generator.parameters());
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
                if ((config.gan().enabled() || discriminator != null)
                        && (augmented || discriminator instanceof RandomInputs)) {
                    throw InvalidRequestException.of("gan.enabled", "false in a data-parallel run with an augmentation"
                            + " or a discriminator with random inputs (their draws are not sharded yet)",
                            augmented ? "a GAN term with an augmentation" : "a discriminator with random inputs");
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
