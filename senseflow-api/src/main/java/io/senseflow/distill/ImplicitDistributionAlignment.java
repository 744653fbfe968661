package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.train.ParameterStore;

/**
 * Implicit distribution alignment (IDA, docs/algorithm.md §4.6): after the generator's optimiser step, and only then,
 * every fake-score parameter moves towards the generator's parameter of the same name,
 *
 * <pre>  phi_F &lt;- lambda phi_F + (1 - lambda) theta_G</pre>
 *
 * <p>so the fake score keeps tracking the distribution the generator now produces instead of the one it produced a
 * few steps ago. {@code lambda} is the weight the fake score keeps: 0.97 for SD3.5 Large and FLUX, 0.98 for SD3.5
 * Medium; the released SDXL setup has no IDA. The rule ties the two networks, so {@code G} and {@code F} must have the
 * same architecture (names and shapes), which {@link #requireCompatible} checks when the distiller is built.
 *
 * <p>The {@link Distiller} applies it in its generator update, right after the generator's step and before the EMA;
 * iterations without a generator step (the two-time-scale rule) do not align. The blend is computed per element in
 * double and rounded to float ({@link ParameterStore#blendFrom}).
 *
 * <p>An immutable value: safe to share between threads (the stores it is applied to are not).
 *
 * @param lambda the weight the fake score's own parameters keep, in [0, 1)
 */
public record ImplicitDistributionAlignment(double lambda) {
    public ImplicitDistributionAlignment {
        if (!(lambda >= 0 && lambda < 1)) {
            throw InvalidRequestException.of("ida.lambda", "a value in [0, 1)", lambda);
        }
    }

    /**
     * @param config the config's IDA section
     * @return the alignment, or null when the config turns IDA off
     */
    public static ImplicitDistributionAlignment of(DistillationConfig.Ida config) {
        return config.enabled() ? new ImplicitDistributionAlignment(config.lambda()) : null;
    }

    /**
     * Checks that the fake score can be aligned with the generator.
     *
     * @param fakeScore F's parameters
     * @param generator G's parameters
     * @throws InvalidRequestException naming the first parameter that differs
     */
    public static void requireCompatible(ParameterStore fakeScore, ParameterStore generator) {
        ParameterStore.requireSameArchitecture(fakeScore, generator, "IDA (ida.enabled)");
    }

    /**
     * Moves the fake score towards the generator: call right after the generator's optimiser step.
     *
     * @param fakeScore F's parameters, updated in place
     * @param generator G's parameters after its step (read only)
     */
    public void align(ParameterStore fakeScore, ParameterStore generator) {
        fakeScore.blendFrom(generator, lambda);
    }
}
