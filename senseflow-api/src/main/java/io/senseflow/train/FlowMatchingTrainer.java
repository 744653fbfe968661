package io.senseflow.train;

import io.senseflow.CancelledException;
import io.senseflow.CheckpointException;
import io.senseflow.InvalidRequestException;
import io.senseflow.NumericalException;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.model.Conditioning;
import io.senseflow.model.PromptEncoder;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.RandomStream;
import io.senseflow.noise.Streams;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Trains a velocity model from scratch (a teacher) by plain flow matching on data batches, engine-free: any
 * {@link DifferentiableModule} (a TensorFlow module, the reference MLP) with its own optimizer. Each step draws
 * noise levels {@code s} from the config's sampler (logit-normal by default) and noise {@code eps}, forms
 * {@code x_s = (1 - s) x0 + s eps}, and takes one AdamW step on {@code mean((v(x_s, s, c) - (eps - x0))^2)} (the
 * in-graph MSE upstream: one forward + backward), with global-norm clipping from the optimizer config. With condition
 * dropout a sample's conditioning is replaced by the unconditional one, so the model learns classifier-free guidance.
 *
 * <p>All randomness is counter-based noise keyed by (seed, step, purpose): {@link #snapshot()} (step, config, the
 * module's parameters and optimizer state, under module name {@value #MODULE}) determines everything that follows and
 * {@link #restore} resumes bit for bit. Checkpoints are written through a sink (e.g. a checkpoint store's {@code save})
 * every N steps. Not thread-safe; the module is not closed by the trainer.
 */
public final class FlowMatchingTrainer {
    /** The module name in snapshots. */
    public static final String MODULE = "model";

    private final FlowMatchingConfig config;
    private final DifferentiableModule model;
    private final DistillationDataset dataset;
    private final PromptEncoder promptEncoder;
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final Consumer<TrainingSnapshot> checkpointSink;
    private final long checkpointEvery;
    private Conditioning uncondCache;
    private long step;

    /**
     * What one step did.
     *
     * @param step the step (0-based)
     * @param loss the flow-matching loss before the update
     * @param gradientNorm the global gradient norm before clipping
     * @param learningRate the rate the update used
     * @param nanos wall time of the step
     */
    public record StepMetrics(long step, double loss, double gradientNorm, double learningRate, long nanos) {
    }

    /** Receives each step's metrics on the training thread. */
    @FunctionalInterface
    public interface Listener {
        /** @param metrics what the step did */
        void onStep(StepMetrics metrics);
    }

    private FlowMatchingTrainer(Builder b) {
        this.config = b.config;
        this.model = b.model;
        this.dataset = b.dataset;
        this.promptEncoder = b.promptEncoder;
        this.listeners.addAll(b.listeners);
        this.checkpointSink = b.checkpointSink;
        this.checkpointEvery = b.checkpointEvery;
    }

    /** @return a builder */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the config */
    public FlowMatchingConfig config() {
        return config;
    }

    /** @return the next step to run */
    public long step() {
        return step;
    }

    /** @param l called after every step @return this */
    public FlowMatchingTrainer addListener(Listener l) {
        listeners.add(Objects.requireNonNull(l));
        return this;
    }

    /**
     * Runs until the config's {@code steps}.
     *
     * @param cancellation checked before every step
     * @return the last step's metrics, or null if none ran
     */
    public StepMetrics run(CancellationToken cancellation) {
        return runUntil(config.steps(), cancellation);
    }

    /**
     * @param end the step to stop before
     * @param cancellation checked before every step
     * @return the last step's metrics, or null if none ran
     */
    public StepMetrics runUntil(long end, CancellationToken cancellation) {
        StepMetrics last = null;
        while (step < end) {
            if (cancellation.isCancelled()) {
                throw new CancelledException("flow-matching training cancelled before step " + step);
            }
            last = trainStep();
        }
        return last;
    }

    /**
     * Runs one step.
     *
     * @return its metrics
     * @throws NumericalException if the loss or the gradient norm is not finite (the update is not applied)
     */
    public StepMetrics trainStep() {
        long t0 = System.nanoTime();
        long it = step;
        int n = config.batchSize();
        DistillationBatch batch = dataset.batch(it, n);
        Tensor x0 = batch.realSamples();
        if (x0 == null) {
            throw new InvalidRequestException("flow matching needs real samples: the dataset's batch " + it + " has none");
        }
        if (batch.size() != n) {
            throw InvalidRequestException.of("dataset batch", n + " samples", batch.size());
        }
        Conditioning cond = batch.conditioning() != null ? batch.conditioning() : encode(batch.prompts());
        if (config.conditionDropout() > 0) {
            cond = dropConditioning(cond, batch, it);
        }
        double[] s = config.timesteps().sampler().sample(n, random("flow_matching.sigma", it));
        float[] sf = new float[n];
        float[] keep = new float[n];
        for (int b = 0; b < n; b++) {
            sf[b] = (float) s[b];
            keep[b] = 1 - sf[b];
        }
        Tensor eps = GaussianNoise.sample(config.seed(), it * n, stream("flow_matching.noise"), x0.shape());
        Tensor xs = Tensor.combine(keep, x0, sf, eps);
        Tensor target = eps.sub(x0);
        Optimizer opt = model.optimizer();
        opt.zeroGradients();
        BackwardResult r = model.backward(ModuleInputs.denoiser(xs, sf, cond), Upstream.mse(target, null),
                GradientMode.PARAMETERS);
        if (!Double.isFinite(r.loss())) {
            throw NumericalException.nonFinite("flow matching", "step " + it, "loss", "is " + r.loss());
        }
        double norm = opt.clipGradientNorm(config.optimizer().clipNorm());
        if (!Double.isFinite(norm)) {
            throw NumericalException.nonFinite("flow matching", "step " + it, "parameter gradient norm", "is " + norm);
        }
        double lr = opt.learningRate();
        opt.step();
        step = it + 1;
        StepMetrics m = new StepMetrics(it, r.loss(), norm, lr, System.nanoTime() - t0);
        for (Listener l : listeners) {
            l.onStep(m);
        }
        if (checkpointSink != null && step % checkpointEvery == 0) {
            checkpointSink.accept(snapshot());
        }
        return m;
    }

    private Conditioning dropConditioning(Conditioning cond, DistillationBatch batch, long it) {
        int n = cond.batch();
        RandomStream rng = random("flow_matching.condition_dropout", it);
        float[] keep = new float[n];
        float[] take = new float[n];
        boolean any = false;
        for (int b = 0; b < n; b++) {
            boolean drop = rng.nextUniform() < config.conditionDropout();
            keep[b] = drop ? 0 : 1;
            take[b] = drop ? 1 : 0;
            any |= drop;
        }
        if (!any) {
            return cond;
        }
        Conditioning u = batch.unconditional() != null ? batch.unconditional() : unconditional(n);
        Tensor tokens = Tensor.combine(keep, cond.tokens(), take, u.tokens());
        Tensor pooled = cond.pooled() == null ? null : Tensor.combine(keep, cond.pooled(), take, u.pooled());
        Tensor mask = cond.mask() == null ? null : Tensor.combine(keep, cond.mask(), take, u.mask());
        return new Conditioning(tokens, pooled, mask, cond.extras());
    }

    private Conditioning encode(List<String> prompts) {
        if (promptEncoder == null) {
            throw new InvalidRequestException("the dataset gives prompts without cached conditioning: set a prompt encoder");
        }
        return promptEncoder.encode(prompts);
    }

    private Conditioning unconditional(int n) {
        if (uncondCache == null || uncondCache.batch() != n) {
            if (promptEncoder == null) {
                throw new InvalidRequestException("condition dropout needs unconditional embeddings: set a prompt encoder"
                        + " or give cached unconditional conditioning in the dataset");
            }
            uncondCache = promptEncoder.encodeNegative(Collections.nCopies(n, ""));
        }
        return uncondCache;
    }

    private RandomStream random(String purpose, long it) {
        return new RandomStream(config.seed(), stream(purpose), it);
    }

    private static int stream(String purpose) {
        return Streams.TRAINING_BASE + Math.floorMod(purpose.hashCode(), 1 << 19);
    }

    /** @return everything an exact resume needs: step, config, parameters and optimizer state */
    public TrainingSnapshot snapshot() {
        return new TrainingSnapshot(step, 0, config.toJson(), Map.of(MODULE, model.parameters().snapshot()),
                Map.of(MODULE, model.optimizer().state()));
    }

    /**
     * @param snapshot a snapshot of a run with the same config and architecture
     * @throws CheckpointException if it belongs to another config or architecture
     */
    public void restore(TrainingSnapshot snapshot) {
        if (!snapshot.configJson().equals(config.toJson())) {
            throw new CheckpointException("checkpoint was written by a run with another config; resume with the same"
                    + " config (the checkpoint's config is saved with it)");
        }
        Map<String, Tensor> values = snapshot.parameters().get(MODULE);
        OptimizerState state = snapshot.optimizers().get(MODULE);
        if (values == null || state == null) {
            throw new CheckpointException("checkpoint has no module '" + MODULE + "' (parameters and optimizer state);"
                    + " it has " + snapshot.parameters().keySet());
        }
        ParameterStore store = model.parameters();
        List<String> problems = new ArrayList<>();
        for (ParameterSpec p : store.specs()) {
            Tensor t = values.get(p.name());
            if (t == null || !Arrays.equals(t.shape(), p.shape())) {
                problems.add(p + " found " + (t == null ? "none" : Arrays.toString(t.shape())));
            }
        }
        if (!problems.isEmpty() || values.size() != store.specs().size()) {
            throw new CheckpointException("checkpoint module '" + MODULE + "' is of another architecture: "
                    + (problems.isEmpty() ? values.size() + " parameters, the model has " + store.specs().size()
                    : problems.subList(0, Math.min(5, problems.size()))));
        }
        store.writeAll(values);
        model.optimizer().restore(state);
        step = snapshot.iteration();
    }

    /** Builder of {@link FlowMatchingTrainer}. */
    public static final class Builder {
        private FlowMatchingConfig config;
        private DifferentiableModule model;
        private DistillationDataset dataset;
        private PromptEncoder promptEncoder;
        private final List<Listener> listeners = new ArrayList<>();
        private Consumer<TrainingSnapshot> checkpointSink;
        private long checkpointEvery;

        private Builder() {
        }

        /** @param c the config @return this */
        public Builder config(FlowMatchingConfig c) {
            config = c;
            return this;
        }

        /** @param m the velocity model, trainable (with an optimizer built from the config's AdamW settings) @return this */
        public Builder model(DifferentiableModule m) {
            model = m;
            return this;
        }

        /** @param d the data: real samples (latents) and prompts or cached conditioning @return this */
        public Builder dataset(DistillationDataset d) {
            dataset = d;
            return this;
        }

        /** @param e encodes prompts (and the empty prompt for condition dropout) @return this */
        public Builder promptEncoder(PromptEncoder e) {
            promptEncoder = e;
            return this;
        }

        /** @param l a listener @return this */
        public Builder listener(Listener l) {
            listeners.add(Objects.requireNonNull(l));
            return this;
        }

        /**
         * @param every save after every {@code every}-th step
         * @param sink receives the snapshot (e.g. {@code store::save} of a checkpoint store)
         * @return this
         */
        public Builder checkpoints(long every, Consumer<TrainingSnapshot> sink) {
            if (every < 1) {
                throw InvalidRequestException.of("checkpoint interval", "at least 1", every);
            }
            checkpointEvery = every;
            checkpointSink = Objects.requireNonNull(sink);
            return this;
        }

        /** @return the trainer */
        public FlowMatchingTrainer build() {
            if (config == null || model == null || dataset == null) {
                throw new InvalidRequestException("FlowMatchingTrainer needs a config, a model and a dataset; missing: "
                        + (config == null ? "config " : "") + (model == null ? "model " : "")
                        + (dataset == null ? "dataset" : ""));
            }
            if (!model.trainable()) {
                throw new InvalidRequestException("the model must be trainable (built with an optimizer)");
            }
            return new FlowMatchingTrainer(this);
        }
    }
}
