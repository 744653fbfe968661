package io.senseflow.noise;

/**
 * The address of one sample's noise: a seed and a sample index under it. Sample {@code i} of a batch generated
 * with seed {@code s} has key {@code (s, i)}; giving the same key to a batch of one reproduces it exactly.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param seed the seed
 * @param sample the sample index under that seed, non-negative
 */
public record NoiseKey(long seed, long sample) {
    public NoiseKey {
        if (sample < 0) {
            throw io.senseflow.InvalidRequestException.of("sample", "a non-negative index", sample);
        }
    }
}
