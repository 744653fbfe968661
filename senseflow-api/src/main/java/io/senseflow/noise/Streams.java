package io.senseflow.noise;

/**
 * Stream ids reserved by the SDK, so independent uses of one seed never overlap. Sampling uses ids below
 * {@link #TRAINING_BASE}; training code adds a purpose offset to {@link #TRAINING_BASE}.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class Streams {
    /** Initial latents of a generation. */
    public static final int INITIAL_NOISE = 0;
    /** First id for training draws. */
    public static final int TRAINING_BASE = 1 << 20;

    private Streams() {
    }

    /** @param step zero-based sampling step @return the stream of that step's fresh noise */
    public static int stepNoise(int step) {
        return 1 + step;
    }
}
