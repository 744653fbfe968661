package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;
import java.util.Arrays;

/**
 * A discrete, ascending set of noise levels indexed by integers: a model's 1000-step training table, or the
 * linear grid {@code t / 1000}. Timestep samplers that draw "uniform in index" draw over one of these.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class SigmaGrid {
    private final double[] levels;
    private final String description;

    private SigmaGrid(double[] levels, String description) {
        for (int i = 1; i < levels.length; i++) {
            if (!(levels[i] > levels[i - 1])) {
                throw InvalidRequestException.of("grid", "strictly ascending levels", "a repeat or descent at index " + i);
            }
        }
        this.levels = levels;
        this.description = description;
    }

    /**
     * @param shift the model's shift
     * @param imageTokens token count for dynamic shifts
     * @return the 1000-step training table {@code table[i] = shift((i + 1) / 1000)}
     */
    public static SigmaGrid trainingTable(Shift shift, int imageTokens) {
        return new SigmaGrid(Schedules.trainingTable(shift, imageTokens), "training table " + shift);
    }

    /**
     * @param ddpm a DDPM table
     * @return its flow levels {@code b / (a + b)} for t = 0..steps-1, ascending (SDXL's grid)
     */
    public static SigmaGrid ddpm(DdpmSchedule ddpm) {
        double[] l = new double[ddpm.steps()];
        for (int t = 0; t < l.length; t++) {
            l[t] = ddpm.flowSigma(t);
        }
        return new SigmaGrid(l, "ddpm");
    }

    /** @param steps number of intervals @return the grid {@code t / steps} for t = 0..steps (FLUX's ISG grid with 1000) */
    public static SigmaGrid linear(int steps) {
        if (steps < 1) {
            throw InvalidRequestException.of("steps", ">= 1", steps);
        }
        double[] l = new double[steps + 1];
        for (int i = 0; i <= steps; i++) {
            l[i] = i / (double) steps;
        }
        return new SigmaGrid(l, "linear/" + steps);
    }

    /** @param levels ascending levels @return a custom grid */
    public static SigmaGrid of(double... levels) {
        return new SigmaGrid(levels.clone(), "custom");
    }

    /** @return number of levels */
    public int size() {
        return levels.length;
    }

    /** @param index grid index @return the level */
    public double level(int index) {
        return levels[index];
    }

    /** @return the lowest level (where the last ISG segment ends) */
    public double lowest() {
        return levels[0];
    }

    /** @param sigma a level @return the index of the nearest grid level */
    public int nearestIndex(double sigma) {
        int i = Arrays.binarySearch(levels, sigma);
        if (i >= 0) {
            return i;
        }
        int ins = -i - 1;
        if (ins == 0) {
            return 0;
        }
        if (ins == levels.length) {
            return levels.length - 1;
        }
        return sigma - levels[ins - 1] <= levels[ins] - sigma ? ins - 1 : ins;
    }

    @Override
    public String toString() {
        return description;
    }
}
