package io.senseflow.testing;

import io.senseflow.tensor.Tensor;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.Optimizer;
import io.senseflow.train.OptimizerState;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.ParameterStore;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Reads an optimizer's real hyper-parameters back from what it did: given a module's parameters and AdamW state before
 * a step and the gradients it stepped with (still in its accumulators after the step), recomputes the AdamW step of a
 * config in float64 and compares parameters and both moments with the engine's. A wrong learning rate, warm-up
 * position, beta, epsilon or weight decay — or a gradient that was changed after the step, or parameters changed
 * between the capture and the step by anything but the blend the caller names — shows up as a mismatch naming the
 * module, the parameter and the quantity. For tests and diagnostics of any backend's {@link Optimizer}.
 *
 * <p>Stateless: safe to use from any thread, on modules that one thread owns.
 */
public final class AdamWReplay {
    private AdamWReplay() {
    }

    /**
     * A module's state before a step.
     *
     * @param step the optimizer's step count
     * @param parameters every parameter
     * @param slots the optimizer's moments ({@code m/NAME}, {@code v/NAME})
     */
    public record Before(long step, Map<String, Tensor> parameters, Map<String, Tensor> slots) {
        public Before {
            parameters = Map.copyOf(parameters);
            slots = Map.copyOf(slots);
        }
    }

    /**
     * What the replay found.
     *
     * @param module the module's name
     * @param learningRate the rate the config gives for this step (the one the engine is checked against)
     * @param gradientNorm the global norm of the gradients the step used (after clipping)
     * @param worstRelativeError the largest {@code ||engine - replay|| / ||replay||} over every parameter's update and
     *     both moments
     */
    public record Report(String module, double learningRate, double gradientNorm, double worstRelativeError) {
    }

    /**
     * @param params a module's parameters
     * @param optimizer its optimizer
     * @return their state now
     */
    public static Before capture(ParameterStore params, Optimizer optimizer) {
        OptimizerState s = optimizer.state();
        return new Before(s.step(), params.snapshot(), s.slots());
    }

    /**
     * The parameters a step started from when a blend {@code p <- keep p + (1 - keep) source} ran between the capture
     * and the step (IDA on the fake score), computed as {@link ParameterStore#blendFrom} defines it.
     *
     * @param before the captured parameters
     * @param source the blend's source, as it was when the blend ran
     * @param keep the weight of the current value
     * @return the blended parameters
     */
    public static Map<String, Tensor> blended(Map<String, Tensor> before, Map<String, Tensor> source, double keep) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        before.forEach((name, t) -> {
            float[] mine = t.toArray();
            float[] theirs = source.get(name).toArray();
            for (int i = 0; i < mine.length; i++) {
                mine[i] = (float) (keep * mine[i] + (1 - keep) * theirs[i]);
            }
            out.put(name, Tensor.wrap(mine, t.shape()));
        });
        return out;
    }

    /**
     * Checks that the module took exactly one AdamW step of {@code config} from {@code start} since {@code before}.
     *
     * @param module a name for messages
     * @param before the state captured before the step
     * @param start the parameters the step started from ({@code before.parameters()}, or {@link #blended})
     * @param params the module's parameters now
     * @param optimizer its optimizer now (its accumulators still hold the step's gradients)
     * @param config the configuration the step must have used
     * @param tolerance the largest relative error accepted (float32 rounding: about 1e-4)
     * @return the report
     * @throws AssertionError naming module, parameter and quantity on a mismatch
     */
    public static Report check(String module, Before before, Map<String, Tensor> start, ParameterStore params,
                               Optimizer optimizer, AdamWConfig config, double tolerance) {
        if (optimizer.stepCount() != before.step() + 1) {
            throw new AssertionError(module + ": expected one optimizer step after step " + before.step() + ", the"
                    + " optimizer is at step " + optimizer.stepCount());
        }
        long t = before.step() + 1;
        double lr = config.learningRate().rate(before.step());
        double b1 = config.beta1();
        double b2 = config.beta2();
        double bc1 = 1 - Math.pow(b1, t);
        double bc2 = 1 - Math.pow(b2, t);
        OptimizerState now = optimizer.state();
        Map<String, Tensor> after = params.snapshot();   // one read of every parameter (one engine call where it can)
        double worst = 0;
        double gradSq = 0;
        for (ParameterSpec spec : params.specs()) {
            String name = spec.name();
            float[] p0 = start.get(name).toArray();
            float[] g = optimizer.gradient(name).toArray();
            float[] m0 = before.slots().get("m/" + name).toArray();
            float[] v0 = before.slots().get("v/" + name).toArray();
            float[] p1 = after.get(name).toArray();
            float[] m1 = now.slots().get("m/" + name).toArray();
            float[] v1 = now.slots().get("v/" + name).toArray();
            double[] err = new double[3];
            double[] ref = new double[3];
            for (int i = 0; i < p0.length; i++) {
                gradSq += (double) g[i] * g[i];
                double m = b1 * m0[i] + (1 - b1) * g[i];
                double v = b2 * v0[i] + (1 - b2) * (double) g[i] * g[i];
                double decayed = p0[i] * (1 - lr * config.weightDecay());
                double p = decayed - (lr / bc1) * m / (Math.sqrt(v) / Math.sqrt(bc2) + config.epsilon());
                double du = p - p0[i];
                double dE = (double) p1[i] - p0[i];
                err[0] += (dE - du) * (dE - du);
                ref[0] += du * du;
                err[1] += (m1[i] - m) * (m1[i] - m);
                ref[1] += m * m;
                err[2] += (v1[i] - v) * (v1[i] - v);
                ref[2] += v * v;
            }
            String[] what = {"update", "first moment", "second moment"};
            for (int q = 0; q < 3; q++) {
                if (ref[q] == 0 && err[q] == 0) {
                    continue;
                }
                double rel = Math.sqrt(err[q] / Math.max(ref[q], Double.MIN_NORMAL));
                worst = Math.max(worst, rel);
                if (!(rel <= tolerance)) {
                    throw new AssertionError(String.format(Locale.ROOT, "%s parameter %s: the %s differs from AdamW"
                            + " with lr %.6g (step %d), betas %s/%s, eps %s, weight decay %s by %.3g (relative; at most"
                            + " %.1g accepted)", module, name, what[q], lr, t, b1, b2, config.epsilon(),
                            config.weightDecay(), rel, tolerance));
                }
            }
        }
        return new Report(module, lr, Math.sqrt(gradSq), worst);
    }
}
