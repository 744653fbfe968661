package io.senseflow.train;

/**
 * Which gradients a backward pass produces (DESIGN.md, "The seam").
 *
 * <p>Immutable: safe to share between threads.
 */
public enum GradientMode {
    /** Accumulate gradients into the module's parameters only. */
    PARAMETERS,
    /**
     * Return gradients with respect to the inputs only; the module's accumulated parameter gradients stay exactly
     * as they were. The generator's GAN term uses it on the discriminator (and the VAE decoder), so the
     * discriminator's own update is not polluted by the generator's pass.
     */
    INPUTS,
    /** Both. */
    BOTH;

    /** @return whether parameter gradients are accumulated */
    public boolean parameters() {
        return this != INPUTS;
    }

    /** @return whether input gradients are returned */
    public boolean inputs() {
        return this != PARAMETERS;
    }
}
