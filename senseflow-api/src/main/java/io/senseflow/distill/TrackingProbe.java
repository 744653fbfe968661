package io.senseflow.distill;

import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.RandomStream;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.ModuleInputs;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Does the fake score track the generator? A fixed probe batch — fixed prompts, fixed starting noise, fixed
 * re-noising, fixed DMD noise levels and noise — is sampled by the generator's current weights through its anchors
 * (the few-step sampler the student ships with; sample {@code b} stops at anchor {@code b mod K}, see
 * {@link #samples}), noised as the DMD term noises its samples, and shown to the teacher and the fake score. Forward passes only: the probe changes no parameter, optimizer state or random stream, so a run
 * with the probe is bit-identical to one without it.
 *
 * <p>What it measures (all means over every element of the probe batch; {@code x0_c} is the teacher's unguided
 * conditional clean-sample prediction, {@code x0_real} the real score in the DMD term's guidance mode, {@code x0_fake}
 * the fake score's):
 * <ul>
 *   <li>{@value #FAKE_LOSS}, {@value #TEACHER_LOSS}: the flow-matching loss {@code mean((v - (eps - x0))^2)} of the
 *       fake score and of the unguided teacher on the same noised generator samples. A fake score that tracks the
 *       generator denoises the generator's samples better than the teacher does (the ratio {@value #LOSS_RATIO} falls
 *       below 1);</li>
 *   <li>{@value #DMD}: {@code mean|x0_fake - x0_real|}, what the DMD term pushes along, split into
 *       {@value #GUIDANCE} {@code mean|x0_real - x0_c|} (the guidance part: zero without guidance) and
 *       {@value #FAKE_VS_TEACHER} {@code mean|x0_fake - x0_c|} (the rest: what the fake score has learnt about the
 *       generator's distribution); {@value #GUIDANCE_COSINE} is the cosine between {@code x0_fake - x0_real} and
 *       {@code x0_c - x0_real} (1: the DMD direction is the guidance direction alone);</li>
 *   <li>{@value #DMD_NORMALISED}: the DMD term's per-sample normalised size {@code mean|x0_fake - x0_real| /
 *       mean|x0 - x0_real|}, averaged over the samples.</li>
 * </ul>
 *
 * <p>Not thread-safe: the distiller calls it from its training thread.
 */
public final class TrackingProbe {
    /** Prefix of the probe's metrics in {@link IterationMetrics#losses()}. */
    public static final String PREFIX = "track.";
    /** The fake score's flow-matching loss on the probe. */
    public static final String FAKE_LOSS = "track.fake_loss";
    /** The unguided teacher's flow-matching loss on the probe. */
    public static final String TEACHER_LOSS = "track.teacher_loss";
    /** {@code fake_loss / teacher_loss}. */
    public static final String LOSS_RATIO = "track.loss_ratio";
    /** {@code mean|x0_fake - x0_real|}. */
    public static final String DMD = "track.dmd";
    /** {@code mean|x0_real - x0_c|}. */
    public static final String GUIDANCE = "track.guidance";
    /** {@code mean|x0_fake - x0_c|}. */
    public static final String FAKE_VS_TEACHER = "track.fake_vs_teacher";
    /** Cosine between {@code x0_fake - x0_real} and {@code x0_c - x0_real}. */
    public static final String GUIDANCE_COSINE = "track.guidance_cosine";
    /** The DMD term's normalised size. */
    public static final String DMD_NORMALISED = "track.dmd_normalised";

    private final double[] anchors;
    private final Conditioning cond;
    private final Conditioning uncond;
    private final Tensor start;
    private final Tensor[] renoise;
    private final float[] sigmas;
    private final Tensor noise;
    private final long seed;

    /**
     * @param seed the run's seed (the probe's streams are its own purposes, iteration 0)
     * @param anchors the generator's anchors, descending
     * @param cond the probe prompts' conditioning (batch B)
     * @param uncond their unconditional conditioning, or null when the real score needs none
     * @param sampleShape one sample without the batch dimension
     * @param levels the DMD term's noise-level sampler
     */
    public TrackingProbe(long seed, double[] anchors, Conditioning cond, Conditioning uncond, int[] sampleShape,
                         TimestepSampler levels) {
        this.seed = seed;
        this.anchors = anchors.clone();
        this.cond = cond;
        this.uncond = uncond;
        int batch = cond.tokens().batch();
        int[] shape = new int[sampleShape.length + 1];
        shape[0] = batch;
        System.arraycopy(sampleShape, 0, shape, 1, sampleShape.length);
        this.start = GaussianNoise.sample(seed, 0, Distiller.streamId("probe.start"), shape);
        this.renoise = new Tensor[anchors.length];
        for (int k = 0; k < anchors.length; k++) {
            renoise[k] = GaussianNoise.sample(seed, 0, Distiller.streamId("probe.renoise." + k), shape);
        }
        double[] s = levels.sample(batch, new RandomStream(seed, Distiller.streamId("probe.sigma"), 0));
        this.sigmas = new float[batch];
        for (int b = 0; b < batch; b++) {
            sigmas[b] = (float) s[b];
        }
        this.noise = GaussianNoise.sample(seed, 0, Distiller.streamId("probe.noise"), shape);
    }

    /** @return the probe's DMD noise levels, one per sample */
    public float[] sigmas() {
        return sigmas.clone();
    }

    /**
     * The generator's current samples of the probe: its few-step stochastic sampler from the fixed noise, and sample
     * {@code b} is the clean-sample prediction {@code x0_hat} at anchor {@code b mod K} of that chain — the samples the
     * DMD term and the fake score see in a backward-simulated iteration, every anchor equally represented.
     *
     * @param teacher the teacher (its pure-noise state)
     * @param generator G
     * @return one {@code x0_hat} per sample
     */
    public Tensor samples(Generator teacher, DifferentiableModule generator) {
        int batch = start.batch();
        int k = anchors.length;
        Tensor x = teacher.pureNoiseState(start, anchors[0]);
        Tensor out = null;
        for (int j = 0; j < k; j++) {
            float[] sj = new float[batch];
            java.util.Arrays.fill(sj, (float) anchors[j]);
            Tensor v = generator.forward(ModuleInputs.denoiser(x, sj, cond));
            Tensor x0 = FlowIdentities.clean(x, (float) anchors[j], v);
            float[] keep = new float[batch];
            float[] take = new float[batch];
            for (int b = 0; b < batch; b++) {
                boolean here = b % k == j;
                keep[b] = here ? 0f : 1f;
                take[b] = here ? 1f : 0f;
            }
            out = out == null ? x0.scalePerSample(take) : Tensor.combine(keep, out, take, x0);
            if (j + 1 < k) {
                x = FlowIdentities.noised(x0, (float) anchors[j + 1], renoise[j]);
            }
        }
        return out;
    }

    /**
     * Measures the probe with the modules' current weights.
     *
     * @param teacher the frozen teacher
     * @param generator G
     * @param fakeScore F
     * @param guidance the DMD term's real-score guidance
     * @return the metrics, keyed by the constants of this class
     */
    public Map<String, Double> measure(Generator teacher, DifferentiableModule generator, DifferentiableModule fakeScore,
                                       TeacherGuidance guidance) {
        Tensor x0 = samples(teacher, generator);
        int batch = x0.batch();
        Tensor xs = FlowIdentities.noised(x0, sigmas, noise);
        Tensor target = FlowIdentities.velocityTarget(x0, noise);
        Tensor vCond = teacher.velocity(xs, sigmas, cond);
        Tensor vReal = guidance.velocity(teacher, xs, sigmas, cond, uncond,
                new RandomStream(seed, Distiller.streamId("probe.guidance"), 0));
        Tensor vFake = fakeScore.forward(ModuleInputs.denoiser(xs, sigmas, cond));
        Tensor x0Cond = FlowIdentities.clean(xs, sigmas, vCond);
        Tensor x0Real = FlowIdentities.clean(xs, sigmas, vReal);
        Tensor x0Fake = FlowIdentities.clean(xs, sigmas, vFake);
        Map<String, Double> m = new LinkedHashMap<>();
        double fakeLoss = vFake.sub(target).sumOfSquares() / target.size();
        double teacherLoss = vCond.sub(target).sumOfSquares() / target.size();
        m.put(FAKE_LOSS, fakeLoss);
        m.put(TEACHER_LOSS, teacherLoss);
        m.put(LOSS_RATIO, fakeLoss / teacherLoss);
        Tensor dmd = x0Fake.sub(x0Real);
        Tensor towardsCond = x0Cond.sub(x0Real);
        m.put(DMD, meanAbs(dmd));
        m.put(GUIDANCE, meanAbs(towardsCond));
        m.put(FAKE_VS_TEACHER, meanAbs(x0Fake.sub(x0Cond)));
        double dot = 0;
        float[] d = dmd.toArray();
        float[] c = towardsCond.toArray();
        for (int i = 0; i < d.length; i++) {
            dot += (double) d[i] * c[i];
        }
        double lengths = Math.sqrt(dmd.sumOfSquares() * towardsCond.sumOfSquares());
        m.put(GUIDANCE_COSINE, lengths > 0 ? dot / lengths : 0.0);
        double[] num = dmd.meanAbsPerSample();
        double[] den = x0.sub(x0Real).meanAbsPerSample();
        double norm = 0;
        for (int b = 0; b < batch; b++) {
            norm += num[b] / den[b] / batch;
        }
        m.put(DMD_NORMALISED, norm);
        return m;
    }

    private static double meanAbs(Tensor t) {
        double s = 0;
        for (double v : t.meanAbsPerSample()) {
            s += v;
        }
        return s / t.batch();
    }
}
