package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;
import java.util.Arrays;

/**
 * The noise levels of one sampling run: {@code N + 1} values, strictly decreasing, the last one the terminal level
 * (0 unless a caller says otherwise). Step {@code k} goes from {@code sigma(k)} to {@code sigma(k + 1)}.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class SigmaSchedule {
    private final double[] sigmas;

    private SigmaSchedule(double[] sigmas) {
        this.sigmas = sigmas;
    }

    /**
     * Validates and wraps a schedule that already ends with its terminal level.
     *
     * @param sigmas at least two values, strictly decreasing, in [0, 1], the first positive
     * @return the schedule
     */
    public static SigmaSchedule withTerminal(double... sigmas) {
        if (sigmas.length < 2) {
            throw InvalidRequestException.of("sigmas", "at least one step (two values with the terminal)", Arrays.toString(sigmas));
        }
        for (int i = 0; i < sigmas.length; i++) {
            double s = sigmas[i];
            if (!(s >= 0 && s <= 1)) {
                throw InvalidRequestException.of("sigmas[" + i + "]", "a value in [0, 1]", s);
            }
            if (i > 0 && !(s < sigmas[i - 1])) {
                throw InvalidRequestException.of("sigmas", "strictly decreasing values", Arrays.toString(sigmas));
            }
        }
        return new SigmaSchedule(sigmas.clone());
    }

    /**
     * A schedule from explicit sigmas given without the terminal: 0 is appended unless the last value is 0.
     *
     * @param sigmas strictly decreasing values in (0, 1]
     * @return the schedule
     */
    public static SigmaSchedule of(double... sigmas) {
        if (sigmas.length == 0) {
            throw InvalidRequestException.of("sigmas", "at least one value", "an empty list");
        }
        if (sigmas[sigmas.length - 1] == 0) {
            return withTerminal(sigmas);
        }
        double[] withZero = Arrays.copyOf(sigmas, sigmas.length + 1);
        return withTerminal(withZero);
    }

    /** @return the number of steps (model evaluations without guidance) */
    public int numSteps() {
        return sigmas.length - 1;
    }

    /** @param k step index, 0..numSteps @return the level at that point */
    public double sigma(int k) {
        return sigmas[k];
    }

    /** @return a copy of all levels including the terminal */
    public double[] sigmas() {
        return sigmas.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SigmaSchedule && Arrays.equals(sigmas, ((SigmaSchedule) o).sigmas);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(sigmas);
    }

    @Override
    public String toString() {
        return Arrays.toString(sigmas);
    }
}
