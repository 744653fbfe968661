package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;

/**
 * The discrete DDPM noise table of epsilon-prediction models such as SDXL, and its mapping into the flow
 * convention (docs/algorithm.md §1).
 *
 * <p>{@code alpha_bar[t]} for t in 0..999 from "scaled linear" betas {@code linspace(sqrt(b0), sqrt(b1), 1000)^2};
 * {@code a = sqrt(alpha_bar)}, {@code b = sqrt(1 - alpha_bar)}, {@code x_t = a x0 + b eps}. In flow terms
 * {@code s = b / (a + b)} and {@code x_s = x_t / (a + b)}. All of it in double: at t = 999, b / a is 14.6.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class DdpmSchedule {
    private final double[] alphaBar;

    private DdpmSchedule(double[] alphaBar) {
        this.alphaBar = alphaBar;
    }

    /** @return the schedule SD 1.x/2.x and SDXL were trained with (0.00085 to 0.012, scaled linear) */
    public static DdpmSchedule stableDiffusion() {
        return scaledLinear(0.00085, 0.012, Schedules.TRAIN_STEPS);
    }

    /**
     * @param betaStart first beta
     * @param betaEnd last beta
     * @param steps number of training steps
     * @return the schedule with betas {@code linspace(sqrt(betaStart), sqrt(betaEnd), steps)^2}
     */
    public static DdpmSchedule scaledLinear(double betaStart, double betaEnd, int steps) {
        if (!(betaStart > 0 && betaEnd < 1 && betaStart <= betaEnd) || steps < 2) {
            throw InvalidRequestException.of("ddpm betas", "0 < betaStart <= betaEnd < 1 and steps >= 2",
                    betaStart + ", " + betaEnd + ", " + steps);
        }
        double[] roots = Schedules.linspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), steps);
        double[] ab = new double[steps];
        double prod = 1;
        for (int i = 0; i < steps; i++) {
            prod *= 1 - roots[i] * roots[i];
            ab[i] = prod;
        }
        return new DdpmSchedule(ab);
    }

    /** @return number of discrete timesteps */
    public int steps() {
        return alphaBar.length;
    }

    /** @param t integer timestep @return {@code alpha_bar[t]} */
    public double alphaBar(int t) {
        return alphaBar[checkT(t)];
    }

    /** @param t integer timestep @return {@code a = sqrt(alpha_bar)} */
    public double signalScale(int t) {
        return Math.sqrt(alphaBar(t));
    }

    /** @param t integer timestep @return {@code b = sqrt(1 - alpha_bar)} */
    public double noiseScale(int t) {
        return Math.sqrt(1 - alphaBar(t));
    }

    /** @param t integer timestep @return the flow noise level {@code b / (a + b)} */
    public double flowSigma(int t) {
        double a = signalScale(t);
        double b = noiseScale(t);
        return b / (a + b);
    }

    /**
     * The continuous extension used for noise levels between table entries: log(b/a) is interpolated linearly
     * in t, so integer timesteps are exact.
     *
     * @param t a timestep in [0, steps - 1]
     * @return the pair (a, b) at that timestep
     */
    public double[] scalesAt(double t) {
        if (!(t >= 0 && t <= alphaBar.length - 1)) {
            throw InvalidRequestException.of("timestep", "in [0, " + (alphaBar.length - 1) + "]", t);
        }
        int lo = (int) Math.floor(t);
        int hi = Math.min(lo + 1, alphaBar.length - 1);
        double frac = t - lo;
        double logRatio = (1 - frac) * logNoiseToSignal(lo) + frac * logNoiseToSignal(hi);
        double ratio = Math.exp(logRatio); // b / a
        double a = 1 / Math.sqrt(1 + ratio * ratio);
        return new double[] {a, ratio * a};
    }

    /**
     * Inverts {@link #flowSigma} on the continuous extension: the timestep whose flow noise level is
     * {@code sigma}. Results within 1e-4 of an integer are snapped to it, so the flow anchors of a DDPM model
     * map back to its exact integer timesteps.
     *
     * @param sigma flow noise level in [flowSigma(0), flowSigma(steps - 1)]
     * @return the timestep
     */
    public double timestepForFlowSigma(double sigma) {
        double lo = flowSigma(0);
        double hi = flowSigma(alphaBar.length - 1);
        if (!(sigma >= lo - 1e-7 && sigma <= hi + 1e-7)) {
            throw InvalidRequestException.of("sigma", "within the DDPM table's range [" + lo + ", " + hi + "]", sigma);
        }
        double target = Math.log(sigma / (1 - sigma)); // log(b / a)
        int left = 0;
        int right = alphaBar.length - 1;
        if (target <= logNoiseToSignal(0)) {
            return 0;
        }
        if (target >= logNoiseToSignal(right)) {
            return right;
        }
        while (right - left > 1) {
            int mid = (left + right) >>> 1;
            if (logNoiseToSignal(mid) <= target) {
                left = mid;
            } else {
                right = mid;
            }
        }
        double l = logNoiseToSignal(left);
        double r = logNoiseToSignal(right);
        double t = left + (target - l) / (r - l);
        double nearest = Math.rint(t);
        return Math.abs(t - nearest) < 1e-4 ? nearest : t;
    }

    private double logNoiseToSignal(int t) {
        return 0.5 * Math.log((1 - alphaBar[t]) / alphaBar[t]);
    }

    private int checkT(int t) {
        if (t < 0 || t >= alphaBar.length) {
            throw InvalidRequestException.of("timestep", "an integer in [0, " + (alphaBar.length - 1) + "]", t);
        }
        return t;
    }
}
