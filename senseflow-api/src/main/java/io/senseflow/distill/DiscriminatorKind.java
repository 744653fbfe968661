package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import java.util.Locale;

/**
 * Which discriminator the GAN term uses (docs/algorithm.md §4.4, §4.8, §5). The engine only sees a
 * {@link io.senseflow.train.DifferentiableModule}; this value records the choice in the config so that a run is
 * reproducible from its saved config, and lets a backend build the matching module.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum DiscriminatorKind {
    /** No discriminator: the GAN term must be off. */
    NONE("none"),
    /**
     * SenseFlow's: trainable heads on taps of a frozen vision foundation model (DINOv2 in the paper) that looks at
     * (decoded) images.
     */
    VFM("vfm"),
    /**
     * DMD2's baseline: trainable heads on the fake score network's own intermediate features, looking at noised
     * generator-space samples; needs no extra model. The fake score's parameters are not trained by this loss.
     */
    FAKE_SCORE_FEATURES("fake-score-features");

    private final String id;

    DiscriminatorKind(String id) {
        this.id = id;
    }

    /** @return the name used in JSON configs */
    public String id() {
        return id;
    }

    /**
     * @param id a JSON name
     * @return the kind
     * @throws InvalidRequestException naming the field when unknown
     */
    public static DiscriminatorKind fromId(String id) {
        for (DiscriminatorKind k : values()) {
            if (k.id.equals(id.toLowerCase(Locale.ROOT))) {
                return k;
            }
        }
        throw InvalidRequestException.of("gan.discriminator", "one of none, vfm, fake-score-features", "\"" + id + "\"");
    }
}
