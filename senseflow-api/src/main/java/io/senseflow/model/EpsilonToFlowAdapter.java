package io.senseflow.model;

import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.tensor.Tensor;

/**
 * Wraps a DDPM epsilon model as a velocity model in the flow convention (docs/algorithm.md §1), so every flow
 * algorithm (samplers, DMD, ISG, IDA) applies unchanged to SDXL-type models.
 *
 * <p>With {@code a = sqrt(alpha_bar[t])}, {@code b = sqrt(1 - alpha_bar[t])}: the flow level is
 * {@code s = b / (a + b)} and {@code x_s = x_t / (a + b)}. Given {@code (x_s, s)} the adapter finds {@code t},
 * runs the model on {@code x_t = (a + b) x_s}, and returns {@code v = eps_hat - x0} with
 * {@code x0 = (x_t - b eps_hat) / a}; this simplifies to {@code v = ((a + b) / a) (eps_hat - x_s)}.
 *
 * <p>The map is affine in {@code eps_hat}, so its backward is exact: see {@link Coefficients}.
 *
 * <p>Thread-safe when the model it wraps is (the ONNX Runtime ones are).
 */
public final class EpsilonToFlowAdapter implements Generator {
    private final EpsilonModel model;
    private final DdpmSchedule schedule;

    /**
     * @param model the epsilon model
     * @param schedule its training noise table
     */
    public EpsilonToFlowAdapter(EpsilonModel model, DdpmSchedule schedule) {
        this.model = model;
        this.schedule = schedule;
    }

    /**
     * The per-sample constants of the map at flow level {@code s}.
     *
     * @param timestep the DDPM timestep
     * @param a signal scale
     * @param b noise scale
     */
    public record Coefficients(double timestep, double a, double b) {
        /** @return the scale {@code a + b} between flow and DDPM states: {@code x_t = (a + b) x_s} */
        public double inputScale() {
            return a + b;
        }

        /**
         * The gain {@code g = (a + b) / a} of {@code v = g (eps_hat - x_s)}. Backward of the map: the model receives
         * the upstream {@code g dL/dv}; the state receives {@code -g dL/dv} directly plus {@code (a + b)} times the
         * model's input gradient.
         *
         * @return the gain
         */
        public double velocityGain() {
            return (a + b) / a;
        }
    }

    /** @param sigma a flow level @return the map's constants there */
    public Coefficients coefficients(double sigma) {
        return coefficients(schedule, sigma);
    }

    /**
     * @param schedule a DDPM table
     * @param sigma a flow level
     * @return the map's constants there
     */
    public static Coefficients coefficients(DdpmSchedule schedule, double sigma) {
        double t = schedule.timestepForFlowSigma(sigma);
        double[] ab = schedule.scalesAt(t);
        return new Coefficients(t, ab[0], ab[1]);
    }

    @Override
    public Tensor predict(Tensor x, float[] sigmas, Conditioning conditioning) {
        int n = sigmas.length;
        float[] t = new float[n];
        float[] scale = new float[n];
        float[] gain = new float[n];
        for (int i = 0; i < n; i++) {
            Coefficients c = coefficients(sigmas[i]);
            t[i] = (float) c.timestep();
            scale[i] = (float) c.inputScale();
            gain[i] = (float) c.velocityGain();
        }
        Tensor xt = x.scalePerSample(scale);
        Tensor eps = model.predictEpsilon(xt, t, conditioning);
        float[] negGain = new float[n];
        for (int i = 0; i < n; i++) {
            negGain[i] = -gain[i];
        }
        return Tensor.combine(gain, eps, negGain, x);
    }

    @Override
    public Parameterization parameterization() {
        return Parameterization.VELOCITY;
    }

    @Override
    public LatentFormat latentFormat() {
        return model.latentFormat();
    }

    /** Pure noise {@code x_t = eps} becomes {@code x_s = eps / (a + b)} (0.938 eps at t = 999). */
    @Override
    public Tensor pureNoiseState(Tensor noise, double sigma) {
        return noise.scale((float) (1 / coefficients(sigma).inputScale()));
    }

    /** @return the wrapped model */
    public EpsilonModel model() {
        return model;
    }

    @Override
    public void close() {
        model.close();
    }
}
