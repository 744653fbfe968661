package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import java.util.Locale;

/**
 * Which terms of the method a run uses: the rows of the paper's ablation.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum Recipe {
    /** DMD2's distribution matching with TTUR and backward simulation; no IDA, ISG or GAN. */
    VANILLA_DMD("vanilla-dmd", false, false, false),
    /** DMD + implicit distribution alignment. */
    DMD_IDA("dmd+ida", true, false, false),
    /** DMD + IDA + intra-segment guidance. */
    DMD_IDA_ISG("dmd+ida+isg", true, true, false),
    /** Everything: DMD + IDA + ISG + the GAN term. */
    SENSEFLOW("senseflow", true, true, true);

    private final String id;
    private final boolean ida;
    private final boolean isg;
    private final boolean gan;

    Recipe(String id, boolean ida, boolean isg, boolean gan) {
        this.id = id;
        this.ida = ida;
        this.isg = isg;
        this.gan = gan;
    }

    /** @return the preset name used on the command line and in configs */
    public String id() {
        return id;
    }

    /** @return whether IDA is on */
    public boolean ida() {
        return ida;
    }

    /** @return whether ISG is on */
    public boolean isg() {
        return isg;
    }

    /** @return whether the GAN term is on */
    public boolean gan() {
        return gan;
    }

    /** @param id a preset name @return the recipe */
    public static Recipe fromId(String id) {
        for (Recipe r : values()) {
            if (r.id.equals(id.toLowerCase(Locale.ROOT))) {
                return r;
            }
        }
        throw InvalidRequestException.of("preset", "one of vanilla-dmd, dmd+ida, dmd+ida+isg, senseflow", "\"" + id + "\"");
    }
}
