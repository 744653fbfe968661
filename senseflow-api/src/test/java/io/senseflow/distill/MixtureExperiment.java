package io.senseflow.distill;

import io.senseflow.model.Conditioning;
import io.senseflow.model.LatentFormat;
import io.senseflow.noise.RandomStream;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.FlowMatchEulerScheduler;
import io.senseflow.schedule.SamplingMode;
import io.senseflow.schedule.Scheduler;
import io.senseflow.schedule.Shift;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.GaussianMixture;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.testing.MixturePrompts;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleGenerator;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The 2-D distillation experiment: an 8-mode conditional Gaussian mixture whose exact flow velocity field is the
 * teacher; G and F are reference MLPs initialised from one MLP fitted to that field (as real G and F start from
 * the teacher); students are sampled with the few-step scheduler and measured by sliced Wasserstein distance to
 * exact data samples.
 */
final class MixtureExperiment {
    static final GaussianMixture DATA = GaussianMixture.ring(8, 2.0, 0.2);
    static final MixturePrompts PROMPTS = new MixturePrompts(8);
    static final List<String> PROMPT_SET = List.of("all", "modes 0,1,2,3", "modes 4,5,6,7", "modes 0,2,4,6",
            "modes 1,3,5,7", "modes 2");
    static final double[] ANCHORS = {1, 0.75, 0.5, 0.25};
    static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 128, 3);
    static final int EVAL_SAMPLES = 1000;
    static final int PROJECTIONS = 32;
    static final int FIT_STEPS = 1500;

    private static Map<String, Tensor> pretrained;

    private MixtureExperiment() {
    }

    /** The dataset: prompts cycle through the prompt set; real samples are exact draws. */
    static DistillationDataset dataset(long seed) {
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int batchSize) {
                List<String> prompts = new ArrayList<>(batchSize);
                float[] real = new float[2 * batchSize];
                for (int b = 0; b < batchSize; b++) {
                    long index = iteration * batchSize + b;
                    String p = PROMPT_SET.get((int) (index % PROMPT_SET.size()));
                    prompts.add(p);
                    double[][] x = DATA.sample(1, PROMPTS.parse(p), new RandomStream(seed, 991, index));
                    real[2 * b] = (float) x[0][0];
                    real[2 * b + 1] = (float) x[0][1];
                }
                return new DistillationBatch(prompts, null, null, Tensor.wrap(real, batchSize, 2, 1, 1));
            }

            @Override
            public int[] sampleShape() {
                return new int[] {2, 1, 1};
            }
        };
    }

    /**
     * An MLP fitted to the teacher's exact velocity field (regression on x_s with s ~ U(0, 1)), computed once.
     */
    static synchronized Map<String, Tensor> teacherFit() {
        if (pretrained == null) {
            Mlp m = new Mlp(SPEC, 1234, new AdamWConfig(io.senseflow.train.LearningRateSchedule.cosine(3e-3, 100, FIT_STEPS, 1e-4),
                    0.9, 0.99, 1e-8, 0, 1.0));
            MixtureFlowGenerator teacher = new MixtureFlowGenerator(DATA);
            DistillationDataset data = dataset(4321);
            int batch = 256;
            for (int step = 0; step < FIT_STEPS; step++) {
                DistillationBatch b = data.batch(step, batch);
                Conditioning c = PROMPTS.encode(b.prompts());
                RandomStream rng = new RandomStream(77, 1, step);
                float[] s = new float[batch];
                float[] one = new float[batch];
                for (int i = 0; i < batch; i++) {
                    double u = rng.nextUniform();
                    s[i] = (float) (i % 4 == 0 ? 1 - 0.05 * u : u); // extra weight near pure noise, where layout is decided
                    one[i] = 1 - s[i];
                }
                Tensor eps = io.senseflow.noise.GaussianNoise.sample(78, (long) step * batch, 0, batch, 2, 1, 1);
                Tensor xs = Tensor.combine(one, b.realSamples(), s, eps);
                Tensor target = teacher.predict(xs, s, c);
                m.optimizer().zeroGradients();
                m.backward(ModuleInputs.denoiser(xs, s, c), Upstream.mse(target, null), GradientMode.PARAMETERS);
                m.optimizer().clipGradientNorm(1.0);
                m.optimizer().step();
            }
            pretrained = m.parameters().snapshot();
        }
        return pretrained;
    }

    /** @return a fresh MLP with the teacher-fit weights */
    static Mlp initFromTeacher(AdamWConfig optimizer) {
        Mlp m = new Mlp(SPEC, 1, optimizer);
        teacherFit().forEach((k, v) -> m.parameters().write(k, v));
        return m;
    }

    /** Samples per prompt of the prompt set, from a generator, with a scheduler and steps. */
    static List<Tensor> samples(io.senseflow.model.Generator g, Scheduler scheduler, int steps, double guidance, long seed) {
        try (TextToImagePipeline p = TextToImagePipeline.builder().modelName("mixture").promptEncoder(PROMPTS).generator(g)
                .scheduler(scheduler).guidanceMode(guidance > 1 ? GuidanceMode.CFG : GuidanceMode.NONE)
                .defaults(new ModelDefaults(steps, 1, 1, 1)).build()) {
            List<Tensor> out = new ArrayList<>();
            for (int i = 0; i < PROMPT_SET.size(); i++) {
                GenerationRequest.Builder r = GenerationRequest.builder().prompt(PROMPT_SET.get(i))
                        .imagesPerPrompt(EVAL_SAMPLES).seed(seed + 1000L * i).numInferenceSteps(steps);
                if (guidance > 1) {
                    r.guidanceScale(guidance);
                }
                out.add(p.generate(r.build()).latents());
            }
            return out;
        }
    }

    static Scheduler euler() {
        return new FlowMatchEulerScheduler(Shift.none(), FlowMatchEulerScheduler.Spacing.UNIFORM, SamplingMode.EULER);
    }

    static Scheduler fewStep() {
        return FewStepScheduler.of(ANCHORS);
    }

    static List<Tensor> studentSamples(Mlp student, long seed) {
        return samples(new ModuleGenerator(student, new LatentFormat(2, 1, 1)), fewStep(), ANCHORS.length, 1, seed);
    }

    /** Exact data samples per prompt. */
    static List<Tensor> dataSamples(long seed) {
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < PROMPT_SET.size(); i++) {
            double[][] x = DATA.sample(EVAL_SAMPLES, PROMPTS.parse(PROMPT_SET.get(i)), new RandomStream(seed, 5, i));
            float[] f = new float[2 * EVAL_SAMPLES];
            for (int j = 0; j < EVAL_SAMPLES; j++) {
                f[2 * j] = (float) x[j][0];
                f[2 * j + 1] = (float) x[j][1];
            }
            out.add(Tensor.wrap(f, EVAL_SAMPLES, 2, 1, 1));
        }
        return out;
    }

    /** Sliced Wasserstein-1 distance with fixed, evenly spaced projection directions, averaged over prompts. */
    static double swd(List<Tensor> a, List<Tensor> b) {
        double total = 0;
        for (int p = 0; p < a.size(); p++) {
            total += swd(a.get(p), b.get(p));
        }
        return total / a.size();
    }

    static double swd(Tensor a, Tensor b) {
        int n = a.batch();
        double sum = 0;
        double[] pa = new double[n];
        double[] pb = new double[n];
        for (int k = 0; k < PROJECTIONS; k++) {
            double th = Math.PI * k / PROJECTIONS;
            double c = Math.cos(th);
            double s = Math.sin(th);
            for (int i = 0; i < n; i++) {
                pa[i] = c * a.get(2 * i) + s * a.get(2 * i + 1);
                pb[i] = c * b.get(2 * i) + s * b.get(2 * i + 1);
            }
            Arrays.sort(pa);
            Arrays.sort(pb);
            double d = 0;
            for (int i = 0; i < n; i++) {
                d += Math.abs(pa[i] - pb[i]);
            }
            sum += d / n;
        }
        return sum / PROJECTIONS;
    }

    /** Fraction of the 8 modes that get at least a quarter of their expected share of the "all" prompt's samples. */
    static double modeCoverage(Tensor all) {
        int n = all.batch();
        int[] counts = new int[8];
        for (int i = 0; i < n; i++) {
            double[] x = {all.get(2 * i), all.get(2 * i + 1)};
            int k = DATA.nearestComponent(x);
            double[] mu = DATA.mean(k);
            if (Math.hypot(x[0] - mu[0], x[1] - mu[1]) < 3 * DATA.std()) {
                counts[k]++;
            }
        }
        int covered = 0;
        for (int c : counts) {
            if (c >= n / 8 / 4) {
                covered++;
            }
        }
        return covered / 8.0;
    }

    /** Fraction of samples within 3 std of a mode their prompt allows. */
    static double adherence(List<Tensor> perPrompt) {
        int ok = 0;
        int total = 0;
        for (int p = 0; p < perPrompt.size(); p++) {
            boolean[] allowed = PROMPTS.parse(PROMPT_SET.get(p));
            Tensor t = perPrompt.get(p);
            for (int i = 0; i < t.batch(); i++) {
                double[] x = {t.get(2 * i), t.get(2 * i + 1)};
                int k = DATA.nearestComponent(x);
                double[] mu = DATA.mean(k);
                if (allowed[k] && Math.hypot(x[0] - mu[0], x[1] - mu[1]) < 3 * DATA.std()) {
                    ok++;
                }
                total++;
            }
        }
        return ok / (double) total;
    }
}
