package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.train.AdamWConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The custom-objective example of docs/distillation.md, compiled and run. */
class CustomObjectiveExampleTest {

    // --- docs/distillation.md example begins
    /** Pulls the generator's velocity towards the (unguided) teacher's at the generator's own input. */
    static final class TeacherVelocityRegression implements DistillationObjective {
        @Override
        public String name() {
            return "teacher_regression";
        }

        @Override
        public ObjectiveTerm evaluate(GeneratorContext ctx) {
            Tensor vTeacher = ctx.teacherVelocity(new TeacherGuidance.None(), ctx.input(), ctx.sigmas(),
                    ctx.random("teacher_regression"));
            Tensor diff = ctx.velocity().sub(vTeacher);                  // v_G - v_T
            double loss = diff.sumOfSquares() / diff.size();             // mean((v_G - v_T)^2)
            Tensor gradient = diff.scale(2f / diff.size());              // dL/dv_G
            return new ObjectiveTerm(name(), loss, gradient, 0, Map.of());
        }
    }
    // --- example ends

    @Test
    void aCustomObjectiveAddsToThePresetTerms() {
        DistillationConfig cfg = DistillationConfig.preset(Recipe.DMD_IDA, Family.CUSTOM).toBuilder().batchSize(16)
                .iterations(6).ttur(1).optimizers(AdamWConfig.constant(1e-3)).build();
        List<DistillationObjective> objectives = new ArrayList<>(cfg.objectives());
        objectives.add(DistillationObjective.weighted(new TeacherVelocityRegression(), 0.5));
        MlpSpec spec = MlpSpec.denoiser(2, 8, 16, 2);
        Mlp g = new Mlp(spec, 1, cfg.generatorOptimizer());
        Mlp f = new Mlp(spec, 1, cfg.fakeScoreOptimizer());
        List<IterationMetrics> seen = new ArrayList<>();
        Distiller d = Distiller.builder().config(cfg).teacher(new MixtureFlowGenerator(MixtureExperiment.DATA))
                .generator(g).fakeScore(f).dataset(MixtureExperiment.dataset(2)).promptEncoder(MixtureExperiment.PROMPTS)
                .objectives(objectives).listener(seen::add).build();
        d.run(CancellationToken.none());
        assertThat(seen).hasSize(6);
        assertThat(seen.get(0).losses()).containsKeys("dmd", "teacher_regression");
        // the regression term pulls G onto the teacher: its loss falls over a few steps
        assertThat(seen.get(5).losses().get("teacher_regression")).isLessThan(seen.get(0).losses().get("teacher_regression"));
        assertThat(seen.get(0).outputGradientNorms().get("teacher_regression")).isPositive();
    }
}
