package io.senseflow.distill;

import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.ModuleInputs;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * What a {@link DistillationObjective} sees during a generator update: the batch, the generator's input and
 * output, forward-only access to the teacher, fake score and generator, the GAN path, and reproducible
 * randomness keyed by purpose.
 *
 * <p>Not thread-safe: valid only inside the generator update that created it, on the training thread.
 */
public final class GeneratorContext {
    private final long iteration;
    private final long seed;
    private final double[] anchors;
    private final int[] anchorIndex;
    private final float[] sigmas;
    private final Tensor input;
    private final Tensor velocity;
    private final Tensor x0;
    private final Conditioning cond;
    private final Conditioning uncond;
    private final Tensor realSamples;
    private final Generator teacher;
    private final DifferentiableModule generator;
    private final DifferentiableModule fakeScore;
    private final GanPath gan;
    private final BiConsumer<String, Long> timer;
    private float[] guidanceScales;
    private DataShard shard = DataShard.single();
    private int[] globalAnchorIndex;

    /**
     * The networks the GAN term passes through: discriminator, optional frozen decoder (latent models) and the
     * augmentation.
     *
     * @param discriminator the discriminator (input-gradient passes only from the generator side)
     * @param decoder frozen latent decoder, or null for pixel/sample-space models
     * @param augmentation the differentiable augmentation
     */
    public record GanPath(DifferentiableModule discriminator, DifferentiableModule decoder, Augmentation augmentation) {
    }

    GeneratorContext(long iteration, long seed, double[] anchors, int[] anchorIndex, Tensor input, Tensor velocity,
            Conditioning cond, Conditioning uncond, Tensor realSamples, Generator teacher, DifferentiableModule generator,
            DifferentiableModule fakeScore, GanPath gan, BiConsumer<String, Long> timer) {
        this.iteration = iteration;
        this.seed = seed;
        this.anchors = anchors;
        this.anchorIndex = anchorIndex;
        this.sigmas = new float[anchorIndex.length];
        for (int b = 0; b < sigmas.length; b++) {
            sigmas[b] = (float) anchors[anchorIndex[b]];
        }
        this.input = input;
        this.velocity = velocity;
        this.x0 = FlowIdentities.clean(input, sigmas, velocity);
        this.cond = cond;
        this.uncond = uncond;
        this.realSamples = realSamples;
        this.teacher = teacher;
        this.generator = generator;
        this.fakeScore = fakeScore;
        this.gan = gan;
        this.timer = timer;
    }

    /** Sets the batch's per-sample DMD guidance scales (the Distiller passes {@link DistillationBatch#guidance()}). */
    GeneratorContext guidanceScales(float[] scales) {
        this.guidanceScales = scales == null ? null : scales.clone();
        return this;
    }

    /**
     * @return the batch's per-sample guidance scales for the DMD term's real score
     *     ({@link DistillationBatch#guidance()}; NaN entries: drawn from the range), or null when the batch gives none
     */
    public float[] guidanceScales() {
        return guidanceScales == null ? null : guidanceScales.clone();
    }

    /** Makes the context draw as one data-parallel worker (package-private: set by the Distiller). */
    GeneratorContext dataParallel(DataShard s, int[] globalAnchors) {
        this.shard = s;
        this.globalAnchorIndex = globalAnchors;
        return this;
    }

    /** @return which part of the global batch this context computes ({@link DataShard#single()} in one process) */
    public DataShard shard() {
        return shard;
    }

    /** @return the batch size of the whole (global) batch, over all data-parallel workers */
    public int globalBatch() {
        return batch() * shard.size();
    }

    /** @return each sample's anchor index in the whole (global) batch; {@link #anchorIndices()} is this worker's slice */
    public int[] globalAnchorIndices() {
        return (globalAnchorIndex != null ? globalAnchorIndex : anchorIndex).clone();
    }

    /**
     * Draws one noise level per sample of this worker, as a draw for the whole global batch would give them.
     *
     * @param sampler the sampler
     * @param purpose the stream's purpose name
     * @return the levels of this worker's samples
     */
    public double[] sampleLevels(io.senseflow.schedule.TimestepSampler sampler, String purpose) {
        return shard.sample(sampler, globalBatch(), random(purpose));
    }

    /** @return the iteration */
    public long iteration() {
        return iteration;
    }

    /** @return the batch size */
    public int batch() {
        return sigmas.length;
    }

    /** @return the anchors, descending */
    public double[] anchors() {
        return anchors.clone();
    }

    /** @return each sample's anchor index i */
    public int[] anchorIndices() {
        return anchorIndex.clone();
    }

    /** @return each sample's anchor level {@code s_i} */
    public float[] sigmas() {
        return sigmas.clone();
    }

    /** @return the generator's input {@code x_i} */
    public Tensor input() {
        return input;
    }

    /** @return the generator's output {@code v_G} */
    public Tensor velocity() {
        return velocity;
    }

    /** @return {@code x0_hat = x_i - s_i v_G} */
    public Tensor x0() {
        return x0;
    }

    /** @return the prompts' conditioning */
    public Conditioning conditioning() {
        return cond;
    }

    /** @return the unconditional conditioning (may be null when no guidance needs it) */
    public Conditioning unconditional() {
        return uncond;
    }

    /** @return the batch's real samples, or null */
    public Tensor realSamples() {
        return realSamples;
    }

    /** @return the frozen teacher */
    public Generator teacher() {
        return teacher;
    }

    /** @return the GAN path, or null when no discriminator is configured */
    public GanPath gan() {
        return gan;
    }

    /**
     * @param guidance the teacher's guidance mode
     * @param x states
     * @param s levels
     * @param rng draws guidance scales
     * @return the teacher's (guided) velocity
     */
    public Tensor teacherVelocity(TeacherGuidance guidance, Tensor x, float[] s, RandomStream rng) {
        return teacherVelocity(guidance, x, s, rng, null);
    }

    /**
     * @param guidance the teacher's guidance mode
     * @param x states
     * @param s levels
     * @param rng draws the guidance scales that {@code scales} leaves NaN
     * @param scales per-sample scales ({@link #guidanceScales()}), or null to draw them all
     * @return the teacher's guided velocity
     */
    public Tensor teacherVelocity(TeacherGuidance guidance, Tensor x, float[] s, RandomStream rng, float[] scales) {
        long t0 = System.nanoTime();
        // the guidance variants draw one scale per sample: skip those of the workers before this one
        Tensor v = guidance.velocity(teacher, x, s, cond, uncond,
                shard.size() == 1 ? rng : shard.skipEarlier(rng, globalBatch(), 1), scales);
        timer.accept("teacher", System.nanoTime() - t0);
        return v;
    }

    /** @param x states @param s levels @return the fake score's velocity (forward only) */
    public Tensor fakeScoreVelocity(Tensor x, float[] s) {
        long t0 = System.nanoTime();
        Tensor v = fakeScore.forward(ModuleInputs.denoiser(x, s, cond));
        timer.accept("fake_score_forward", System.nanoTime() - t0);
        return v;
    }

    /** @param x states @param s levels @return the generator's velocity with its current weights (forward only) */
    public Tensor generatorVelocity(Tensor x, float[] s) {
        long t0 = System.nanoTime();
        Tensor v = generator.forward(ModuleInputs.denoiser(x, s, cond));
        timer.accept("generator_forward", System.nanoTime() - t0);
        return v;
    }

    /**
     * A reproducible random stream for one purpose in this iteration. The same stream on every data-parallel worker:
     * an objective that draws per-sample values from it must draw them for {@link #globalBatch()} samples and keep
     * its {@link #shard()}'s slice (as {@link #sampleLevels} does), or its samples change with the worker count.
     *
     * @param purpose a name unique to the use (e.g. {@code "dmd.sigma"})
     * @return the stream
     */
    public RandomStream random(String purpose) {
        return new RandomStream(seed, Distiller.streamId(purpose), iteration);
    }

    /**
     * Standard normal noise shaped like the generator input, reproducible per purpose and iteration.
     *
     * @param purpose a name unique to the use
     * @return the noise
     */
    public Tensor noise(String purpose) {
        return GaussianNoise.sample(seed, shard.sampleOffset(iteration, globalBatch()), Distiller.streamId(purpose),
                input.shape());
    }

    /**
     * Chains a gradient with respect to {@code x0_hat} to the generator output: {@code dL/dv = -s_i dL/dx0}.
     *
     * @param dx0 dL/dx0_hat
     * @return dL/dv_G
     */
    public Tensor gradientFromX0(Tensor dx0) {
        return dx0.scalePerSample(negate(sigmas));
    }

    /**
     * Chains a gradient with respect to the generator's step {@code x_hat = x_i + (s_next - s_i) v_G}:
     * {@code dL/dv = (s_next - s_i) dL/dx_hat}.
     *
     * @param dxHat dL/dx_hat
     * @param next each sample's step end
     * @return dL/dv_G
     */
    public Tensor gradientFromStep(Tensor dxHat, float[] next) {
        float[] f = new float[next.length];
        for (int b = 0; b < f.length; b++) {
            f[b] = next[b] - sigmas[b];
        }
        return dxHat.scalePerSample(f);
    }

    /** @param phase a phase name @param nanos time spent, added to the iteration's phase timings */
    public void recordTime(String phase, long nanos) {
        timer.accept(phase, nanos);
    }

    static float[] negate(float[] a) {
        float[] o = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            o[i] = -a[i];
        }
        return o;
    }

    static Map<String, Double> diag(Object... kv) {
        Map<String, Double> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], ((Number) kv[i + 1]).doubleValue());
        }
        return m;
    }
}
