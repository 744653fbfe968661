package io.senseflow.distill;

import io.senseflow.noise.RandomStream;
import io.senseflow.train.ModuleInputs;

/**
 * A module whose every call needs fresh random inputs of its own, drawn by the engine so that the run stays
 * reproducible (everything random comes from the counter-based streams keyed by seed, iteration and purpose). A
 * discriminator on the fake score's features, for instance, looks at noised samples: it needs a noise level and a
 * noise tensor per call. The {@link Distiller} (discriminator update) and {@link AdversarialLoss} (generator pass)
 * call {@link #withRandomInputs} on a discriminator that implements this before each call, with a stream of its own
 * purpose.
 *
 * <p>Called from the training thread only: implementations need not be thread-safe.
 */
public interface RandomInputs {

    /**
     * @param inputs the inputs the engine built (images or samples, conditioning)
     * @param rng the randomness for this call
     * @return the inputs with the module's random inputs added (unchanged if it needs none)
     */
    ModuleInputs withRandomInputs(ModuleInputs inputs, RandomStream rng);

    /**
     * @param module any module
     * @param inputs its inputs
     * @param rng randomness for this call
     * @return {@code inputs} completed by the module when it implements this interface, else {@code inputs}
     */
    static ModuleInputs complete(Object module, ModuleInputs inputs, RandomStream rng) {
        return module instanceof RandomInputs r ? r.withRandomInputs(inputs, rng) : inputs;
    }
}
