package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.schedule.SigmaGrid;

/**
 * The GAN term's time weight {@code omega(s)} and weight {@code w_gan} (docs/algorithm.md §4.4). The three presets
 * each take both numbers from one source; all are near 0 at {@code s = 1}, so the first anchor (and a one-step
 * student) gets almost no GAN signal.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param omega the time weight
 * @param weight {@code w_gan}
 */
public record GanWeighting(Omega omega, double weight) {

    public GanWeighting {
        if (omega == null || !(weight >= 0)) {
            throw InvalidRequestException.of("gan weighting", "an omega and a weight >= 0", weight);
        }
    }

    /** The time weight. */
    public enum Omega {
        /** {@code (1 - s)^2}, the paper's and FLUX's released form. */
        ONE_MINUS_SIGMA_SQUARED,
        /**
         * As the SD3.5 release codes it: the square of the descending sigma table read at the anchor's ascending
         * index, i.e. {@code table[999 - i]^2} where {@code table[i]} is the anchor's level in the shift-3 table.
         */
        SD35_RELEASED,
        /** 1 everywhere. */
        CONSTANT;

        private static final SigmaGrid SD35_TABLE = SigmaGrid.trainingTable(io.senseflow.schedule.Shift.fixed(3), 0);

        /** @param s noise level @return the weight */
        public double at(double s) {
            switch (this) {
                case ONE_MINUS_SIGMA_SQUARED:
                    return (1 - s) * (1 - s);
                case SD35_RELEASED: {
                    int i = SD35_TABLE.nearestIndex(s);
                    double level = SD35_TABLE.level(SD35_TABLE.size() - 1 - i);
                    return level * level;
                }
                case CONSTANT:
                    return 1;
                default:
                    throw new AssertionError(this);
            }
        }
    }

    /** @return the paper's form, {@code (1 - s)^2}, with weight 1 (the paper states no weight) */
    public static GanWeighting paper() {
        return new GanWeighting(Omega.ONE_MINUS_SIGMA_SQUARED, 1.0);
    }

    /** @return the SD3.5 release: the table form with {@code w_gan = 0.1} */
    public static GanWeighting sd35Released() {
        return new GanWeighting(Omega.SD35_RELEASED, 0.1);
    }

    /** @return the FLUX release: {@code (1 - s)^2} with {@code w_gan = 2.0} */
    public static GanWeighting fluxReleased() {
        return new GanWeighting(Omega.ONE_MINUS_SIGMA_SQUARED, 2.0);
    }

    /** @param sigmas level per sample @return {@code omega} per sample */
    public float[] omega(float[] sigmas) {
        float[] w = new float[sigmas.length];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) omega.at(sigmas[i]);
        }
        return w;
    }
}
