package io.senseflow.distill;

import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tensor.Tensor;

/**
 * The distribution matching (DMD) term (docs/algorithm.md §4.2): noise the generator's sample to a level drawn from
 * the family's sampler, compare the teacher's (guided) and the fake score's clean-sample predictions, and push
 * the sample along their difference, normalised per sample by {@code mean |x0_hat - x0_real|}.
 *
 * <p>{@code g = (x0_fake - x0_real) / mean_{C,H,W} |x0_hat - x0_real|}; non-finite entries of {@code g}:
 * NaN to 0, +-Inf to +-{@link Float#MAX_VALUE} (DMD2's {@code nan_to_num}), counted.
 * {@code L = 0.5 mean(g^2)}, {@code dL/dx0_hat = g / numel}.
 *
 * <p>The real score's guidance scale is drawn per sample from the guidance mode's range, except where the batch
 * gives a scale for the sample ({@link DistillationBatch#guidance()}, e.g. a JSONL prompt's {@code "guidance"}).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param noiseLevels the family's DMD noise-level sampler
 * @param guidance the teacher's guidance mode for the real score
 */
public record DistributionMatching(TimestepSampler noiseLevels, TeacherGuidance guidance) implements DistillationObjective {

    /**
     * The pure part of the term.
     *
     * @param loss {@code 0.5 mean(g^2)}
     * @param gradient {@code dL/dx0_hat = g / numel}
     * @param nonFinite how many entries of g were replaced
     */
    public record Result(double loss, Tensor gradient, int nonFinite) {
    }

    @Override
    public String name() {
        return "dmd";
    }

    /**
     * @param x0Hat the generator's clean sample
     * @param x0Real the teacher's clean-sample prediction
     * @param x0Fake the fake score's clean-sample prediction
     * @return loss, gradient with respect to {@code x0Hat}, replaced count
     */
    public static Result gradient(Tensor x0Hat, Tensor x0Real, Tensor x0Fake) {
        int batch = x0Hat.batch();
        int per = x0Hat.sampleSize();
        int n = x0Hat.size();
        float[] hat = x0Hat.toArray();
        float[] real = x0Real.toArray();
        float[] fake = x0Fake.toArray();
        float[] g = new float[n];
        int replaced = 0;
        double sumSq = 0;
        for (int b = 0; b < batch; b++) {
            double norm = 0;
            for (int i = b * per; i < (b + 1) * per; i++) {
                norm += Math.abs((double) hat[i] - real[i]);
            }
            norm /= per;
            for (int i = b * per; i < (b + 1) * per; i++) {
                double v = ((double) fake[i] - real[i]) / norm;
                float f = (float) v;
                if (Float.isNaN(f)) {
                    f = 0f;
                    replaced++;
                } else if (Float.isInfinite(f)) {
                    f = f > 0 ? Float.MAX_VALUE : -Float.MAX_VALUE;
                    replaced++;
                }
                g[i] = f;
                sumSq += (double) f * f;
            }
        }
        float[] grad = new float[n];
        for (int i = 0; i < n; i++) {
            grad[i] = g[i] / n;
        }
        return new Result(0.5 * sumSq / n, Tensor.wrap(grad, x0Hat.shape()), replaced);
    }

    @Override
    public ObjectiveTerm evaluate(GeneratorContext ctx) {
        Tensor x0 = ctx.x0();
        int batch = ctx.batch();
        double[] drawn = ctx.sampleLevels(noiseLevels, "dmd.sigma");
        float[] s = new float[batch];
        for (int b = 0; b < batch; b++) {
            s[b] = (float) drawn[b];
        }
        Tensor xs = FlowIdentities.noised(x0, s, ctx.noise("dmd.noise"));
        // per-prompt scales (DistillationBatch.guidance) where the batch gives them, else drawn from the range
        Tensor vReal = ctx.teacherVelocity(guidance, xs, s, ctx.random("dmd.guidance"), ctx.guidanceScales());
        Tensor x0Real = FlowIdentities.clean(xs, s, vReal);
        Tensor vFake = ctx.fakeScoreVelocity(xs, s);
        Tensor x0Fake = FlowIdentities.clean(xs, s, vFake);
        Result r = gradient(x0, x0Real, x0Fake);
        double meanS = 0;
        for (float v : s) {
            meanS += v / batch;
        }
        return new ObjectiveTerm(name(), r.loss(), ctx.gradientFromX0(r.gradient()), r.nonFinite(),
                GeneratorContext.diag("mean_sigma", meanS));
    }
}
