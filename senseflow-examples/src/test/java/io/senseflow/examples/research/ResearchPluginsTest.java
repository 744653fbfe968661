package io.senseflow.examples.research;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.DistillationObjective;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.GeneratorContext;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.ObjectiveTerm;
import io.senseflow.distill.Recipe;
import io.senseflow.distill.TeacherGuidance;
import io.senseflow.noise.RandomStream;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.GaussianMixture;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.testing.MixturePrompts;
import io.senseflow.train.AdamWConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The example's plug-ins on their own, on the pure-Java reference backend: the ODE regression against a float64
 * integration of the exact mixture teacher, and the Kumaraswamy sampler against its distribution.
 */
class ResearchPluginsTest {
    private static final GaussianMixture DATA = GaussianMixture.ring(8, 2.0, 0.2);
    private static final MixturePrompts PROMPTS = new MixturePrompts(8);
    private static final List<String> PROMPT_SET = List.of("all", "modes 0,1,2,3", "modes 2", "modes 1,3,5,7", "all");

    private static DistillationDataset prompts() {
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int batchSize) {
                List<String> p = new ArrayList<>();
                for (int b = 0; b < batchSize; b++) {
                    p.add(PROMPT_SET.get((int) ((iteration * batchSize + b) % PROMPT_SET.size())));
                }
                return DistillationBatch.ofPrompts(p);
            }

            @Override
            public int[] sampleShape() {
                return new int[] {2, 1, 1};
            }
        };
    }

    /** What one generator update showed the objective. */
    private record Seen(Tensor input, float[] sigmas, Tensor x0, List<String> prompts, ObjectiveTerm term) {
    }

    @Test
    void theOdeRegressionIsTheFloat64TeacherIntegrationAndPullsTheGeneratorOntoIt() {
        int batch = 7;
        DistillationConfig cfg = DistillationConfig.preset(Recipe.VANILLA_DMD, Family.CUSTOM).toBuilder().batchSize(batch)
                .iterations(40).ttur(1).seed(11).optimizers(AdamWConfig.constant(3e-3)).build();
        TeacherOdeRegression ode = new TeacherOdeRegression(5, new TeacherGuidance.None());
        List<Seen> seen = new ArrayList<>();
        DistillationDataset data = prompts();
        DistillationObjective capturing = new DistillationObjective() {
            @Override
            public String name() {
                return ode.name();
            }

            @Override
            public ObjectiveTerm evaluate(GeneratorContext ctx) {
                ObjectiveTerm t = ode.evaluate(ctx);
                seen.add(new Seen(ctx.input(), ctx.sigmas(), ctx.x0(), data.batch(ctx.iteration(), batch).prompts(), t));
                return t;
            }
        };
        MlpSpec spec = MlpSpec.denoiser(2, 8, 32, 2);
        List<IterationMetrics> metrics = new ArrayList<>();
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(DATA))
                .generator(new Mlp(spec, 1, cfg.generatorOptimizer())).fakeScore(new Mlp(spec, 1, cfg.fakeScoreOptimizer()))
                .dataset(data).promptEncoder(PROMPTS).objectives(List.of(capturing)).listener(metrics::add).build();
        d.run(CancellationToken.none());
        assertThat(seen).hasSize(40);

        // iteration 0 against float64: Euler steps of the exact velocity from x_i at s_i down to 0
        Seen first = seen.get(0);
        float[] in = first.input().toArray();
        float[] x0hat = first.x0().toArray();
        float[] grad = first.term().gradient().toArray();
        int n = in.length;
        double lossRef = 0;
        double[] dRef = new double[n];
        for (int b = 0; b < batch; b++) {
            boolean[] allowed = PROMPTS.parse(first.prompts().get(b));
            double[] x = {in[2 * b], in[2 * b + 1]};
            double s0 = first.sigmas()[b];
            double level = s0;
            double[] v = new double[2];
            for (int k = 1; k <= 5; k++) {
                double next = s0 * (1 - k / 5.0);
                DATA.velocity(x, level, allowed, v);
                x[0] += (next - level) * v[0];
                x[1] += (next - level) * v[1];
                level = next;
            }
            for (int i = 0; i < 2; i++) {
                double diff = x0hat[2 * b + i] - x[i];
                dRef[2 * b + i] = -s0 * 2 * diff / n;
                lossRef += diff * diff / n;
            }
        }
        assertThat(first.term().loss()).isCloseTo(lossRef, offset(1e-4 * Math.max(1, lossRef)));
        for (int i = 0; i < n; i++) {
            assertThat((double) grad[i]).as("dL/dv_G[%d]", i).isCloseTo(dRef[i], offset(1e-5));
        }
        assertThat(first.term().diagnostics()).containsEntry("teacher_steps", 5.0);

        // trained on the term alone, the generator's one-step samples approach the teacher's ODE samples
        double early = (metrics.get(0).losses().get("ode_regression") + metrics.get(1).losses().get("ode_regression")) / 2;
        double late = (metrics.get(38).losses().get("ode_regression") + metrics.get(39).losses().get("ode_regression")) / 2;
        assertThat(late).isLessThan(0.8 * early);
    }

    @Test
    void theKumaraswamySamplerFollowsItsDistribution() {
        KumaraswamyTimesteps k = new KumaraswamyTimesteps(2, 1.5, 0.01);
        // mean and P(s < 0.5) in float64 from the inverse CDF and the CDF 1 - (1 - s^a)^b
        double meanRef = 0;
        int grid = 200_000;
        for (int i = 0; i < grid; i++) {
            meanRef += k.inverseCdf((i + 0.5) / grid) / grid;
        }
        double belowHalfRef = 1 - Math.pow(1 - Math.pow(0.5, 2), 1.5);
        int draws = 40_000;
        double[] s = k.sample(draws, new RandomStream(7, 3, 0));
        double mean = 0;
        int below = 0;
        for (double v : s) {
            assertThat(v).isBetween(0.01, 0.99);
            mean += v / draws;
            below += v < 0.5 ? 1 : 0;
        }
        // standard errors: sd <= 0.5, so 4 se of the mean < 0.01; of a proportion < 0.01
        assertThat(mean).isCloseTo(meanRef, offset(0.01));
        assertThat((double) below / draws).isCloseTo(belowHalfRef, offset(0.01));
        // it is not the uniform distribution, and a = b = 1 is
        assertThat(meanRef).isGreaterThan(0.55);
        assertThat(new KumaraswamyTimesteps(1, 1, 0).inverseCdf(0.3)).isCloseTo(0.3, offset(1e-12));
        assertThatThrownBy(() -> new KumaraswamyTimesteps(0, 1, 0)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("kumaraswamy shapes");
        assertThatThrownBy(() -> new TeacherOdeRegression(0, new TeacherGuidance.None()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("ode_regression steps");
    }
}
