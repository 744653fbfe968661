package io.senseflow.examples.research;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationObjective;
import io.senseflow.distill.FlowIdentities;
import io.senseflow.distill.GeneratorContext;
import io.senseflow.distill.ObjectiveTerm;
import io.senseflow.distill.TeacherGuidance;
import io.senseflow.tensor.Tensor;
import java.util.Map;

/**
 * A custom generator term written against the {@link DistillationObjective} seam, with no engine code: an LPIPS-free
 * regression onto teacher ODE pairs. From the generator's own input {@code x_i} at {@code s_i}, the frozen teacher
 * integrates its (guided) probability-flow ODE to {@code s = 0} in {@code steps} Euler steps on the uniform grid
 * {@code s_i (1 - k / steps)}; the pair {@code (x_i, x0_T)} is the regression target of the generator's one-step
 * clean sample {@code x0_hat = x_i - s_i v_G}:
 *
 * <pre>
 *   L = mean((x0_hat - x0_T)^2),   dL/dx0_hat = 2 (x0_hat - x0_T) / numel,   dL/dv_G = -s_i dL/dx0_hat
 * </pre>
 *
 * <p>(the last step is {@link GeneratorContext#gradientFromX0}). It pulls the student towards the teacher's own
 * sample for the same noise, where DMD pulls only towards the teacher's distribution; on latent models the squared
 * error in latent space stands in for a perceptual distance. Each generator step costs {@code steps} guided teacher
 * calls per sample ({@link TeacherGuidance#passes()} network evaluations each).
 *
 * <p>The term draws its randomness (the guidance scales, when drawn) only from {@link GeneratorContext#random}, so a run
 * with it stays bit-reproducible and resumable.
 *
 * <p>An immutable value: safe to share between threads.
 *
 * @param steps teacher Euler steps from {@code s_i} to 0 (at least 1)
 * @param guidance the teacher's guidance along the ODE (e.g. the run's fixed CFG scale)
 */
public record TeacherOdeRegression(int steps, TeacherGuidance guidance) implements DistillationObjective {
    /** The metrics name: its losses appear in {@code losses.csv} under it. */
    public static final String NAME = "ode_regression";

    public TeacherOdeRegression {
        if (steps < 1) {
            throw InvalidRequestException.of("ode_regression steps", "at least 1 teacher step", steps);
        }
        if (guidance == null) {
            throw InvalidRequestException.of("ode_regression guidance", "a TeacherGuidance", "null");
        }
    }

    @Override
    public String name() {
        return NAME;
    }

    /**
     * The teacher's ODE solution from the generator's input: {@code steps} Euler steps from {@code s_i} to 0.
     *
     * @param ctx the generator update's context
     * @return {@code x0_T}, shaped like the generator's input
     */
    public Tensor teacherSample(GeneratorContext ctx) {
        float[] start = ctx.sigmas();
        Tensor x = ctx.input();
        float[] level = start.clone();
        for (int k = 1; k <= steps; k++) {
            float[] next = new float[level.length];
            for (int b = 0; b < next.length; b++) {
                next[b] = k == steps ? 0f : (float) (start[b] * (1.0 - (double) k / steps));
            }
            Tensor v = ctx.teacherVelocity(guidance, x, level, ctx.random(NAME + ".guidance." + k));
            x = FlowIdentities.step(x, level, next, v);
            level = next;
        }
        return x;
    }

    @Override
    public ObjectiveTerm evaluate(GeneratorContext ctx) {
        Tensor target = teacherSample(ctx);
        Tensor diff = ctx.x0().sub(target);                       // x0_hat - x0_T
        double loss = diff.sumOfSquares() / diff.size();          // mean((x0_hat - x0_T)^2)
        Tensor dx0 = diff.scale(2f / diff.size());                // dL/dx0_hat
        return new ObjectiveTerm(NAME, loss, ctx.gradientFromX0(dx0), 0, Map.of("teacher_steps", (double) steps));
    }
}
