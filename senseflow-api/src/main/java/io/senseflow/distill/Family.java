package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import java.util.Locale;

/**
 * The model family a run's constants come from (docs/algorithm.md §2-§4). Each family's numbers come from one released
 * setup; {@link #CUSTOM} is a neutral starting point for small in-house models.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum Family {
    /** SD3.5 Large: TTUR 5, IDA 0.97, cfg U(3, 10), ISG cfg 5.0, GAN as released (table omega, 0.1). */
    SD35_LARGE,
    /** SD3.5 Medium: as Large with TTUR 10 and IDA 0.98. */
    SD35_MEDIUM,
    /** FLUX.1-dev: TTUR 5, IDA 0.97, embedded guidance U(1, 8), logit-normal DMD levels, GAN (1-s)^2 x 2.0. */
    FLUX,
    /** SDXL through the epsilon-to-flow adapter: DDPM anchors, cfg 8. */
    SDXL,
    /** Neutral constants for small models: anchors [1, .75, .5, .25], no shift, paper GAN weight. */
    CUSTOM;

    /** @param id a family name such as {@code sd35-large} @return the family */
    public static Family fromId(String id) {
        try {
            return valueOf(id.toUpperCase(Locale.ROOT).replace('-', '_').replace('.', '_'));
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.of("family", "one of sd35-large, sd35-medium, flux, sdxl, custom", "\"" + id + "\"");
        }
    }

    /** @return the lower-case id */
    public String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
