package io.senseflow.noise;

import io.senseflow.InvalidRequestException;
import java.util.Arrays;
import java.util.Locale;

/**
 * Where a generation's noise comes from.
 *
 * <p>Immutable (an enum): safe to share between threads.
 */
public enum NoiseSource {
    /**
     * The SDK's counter-based noise ({@link GaussianNoise}, Philox4x32-10): every sample has its own
     * {@link NoiseKey}, so sample {@code i} of a batch equals a batch of one with the same key, independent of batch
     * size, threads and order. The default.
     */
    COUNTER("sdk"),
    /**
     * PyTorch's CPU generator ({@link TorchGenerator}) seeded with the request's seed: the initial noise of the whole
     * batch is one {@code torch.randn} of the batch's latent shape and later draws (stochastic schedulers) continue the
     * same generator, as diffusers pipelines do with {@code generator=torch.Generator("cpu").manual_seed(seed)}. A
     * sample then depends on the batch it was drawn in, as in diffusers.
     */
    TORCH("torch");

    private final String id;

    NoiseSource(String id) {
        this.id = id;
    }

    /** @return the short name used on the command line and in PNG metadata ({@code sdk} or {@code torch}) */
    public String id() {
        return id;
    }

    /**
     * @param name {@code sdk} or {@code torch} (case-insensitive)
     * @return the source
     * @throws InvalidRequestException for any other name
     */
    public static NoiseSource fromId(String name) {
        for (NoiseSource s : values()) {
            if (s.id.equalsIgnoreCase(name == null ? "" : name.trim())) {
                return s;
            }
        }
        throw InvalidRequestException.of("noise", "one of " + Arrays.stream(values()).map(NoiseSource::id).toList(),
                name == null ? "null" : name.toLowerCase(Locale.ROOT));
    }
}
