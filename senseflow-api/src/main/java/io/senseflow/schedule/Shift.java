package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;

/**
 * How a flow model's noise levels are shifted towards high noise (docs/algorithm.md §2). A static shift uses a fixed
 * factor {@code k} (SD3/SD3.5: 3); a dynamic shift derives {@code mu} from the image token count (FLUX).
 *
 * <p>Its implementations are immutable records: safe to share between threads.
 */
public sealed interface Shift permits Shift.None, Shift.Static, Shift.Dynamic {

    /**
     * @param sigma an unshifted noise level in [0, 1]
     * @param imageTokens the image token count (used by dynamic shifts only)
     * @return the shifted level
     */
    double apply(double sigma, int imageTokens);

    /** @return no shift */
    static Shift none() {
        return new None();
    }

    /** @param k the factor, positive @return a static shift {@code k s / (1 + (k - 1) s)} */
    static Shift fixed(double k) {
        return new Static(k);
    }

    /** @return FLUX's resolution-dependent shift: mu 0.5 at 256 tokens, 1.15 at 4096, linear, not clamped */
    static Shift flux() {
        return new Dynamic(256, 0.5, 4096, 1.15);
    }

    /** No shift. */
    record None() implements Shift {
        @Override
        public double apply(double sigma, int imageTokens) {
            return sigma;
        }
    }

    /**
     * Static shift {@code k s / (1 + (k - 1) s)}.
     *
     * @param k the factor
     */
    record Static(double k) implements Shift {
        public Static {
            if (!(k > 0) || Double.isInfinite(k)) {
                throw InvalidRequestException.of("shift", "a positive finite factor", k);
            }
        }

        @Override
        public double apply(double sigma, int imageTokens) {
            return Schedules.shift(sigma, k);
        }
    }

    /**
     * Resolution-dependent shift {@code e^mu / (e^mu + (1/s - 1))} with {@code mu} linear in the token count.
     *
     * @param baseTokens token count where mu is {@code baseMu}
     * @param baseMu mu at {@code baseTokens}
     * @param maxTokens token count where mu is {@code maxMu}
     * @param maxMu mu at {@code maxTokens}
     */
    record Dynamic(int baseTokens, double baseMu, int maxTokens, double maxMu) implements Shift {
        public Dynamic {
            if (baseTokens <= 0 || maxTokens <= baseTokens) {
                throw InvalidRequestException.of("dynamic shift tokens", "0 < baseTokens < maxTokens",
                        baseTokens + ", " + maxTokens);
            }
        }

        /** @param imageTokens the image token count @return mu for that count */
        public double mu(int imageTokens) {
            double slope = (maxMu - baseMu) / (maxTokens - baseTokens);
            return baseMu + slope * (imageTokens - baseTokens);
        }

        @Override
        public double apply(double sigma, int imageTokens) {
            return Schedules.dynamicShift(sigma, mu(imageTokens));
        }
    }
}
