package io.senseflow.noise;

/**
 * A deterministic source of uniforms and normals addressed by position: value {@code k} of stream
 * {@code (seed, stream)} is the same whenever it is asked for. A stream keeps only a position counter, so its
 * whole state is {@link #position()}; training loops derive a fresh stream per iteration and purpose instead of
 * sharing one, which makes a run resumable from its iteration number alone.
 *
 * <p>Not thread-safe (it advances a counter); create one per thread or task.
 */
public final class RandomStream {
    private final long seed;
    private final int stream;
    private final long sample;
    private long position;

    /**
     * @param seed the seed
     * @param stream the stream id
     * @param sample a second coordinate (e.g. an iteration number) that separates otherwise equal streams
     */
    public RandomStream(long seed, int stream, long sample) {
        this.seed = seed;
        this.stream = stream;
        this.sample = sample;
    }

    /** @return the next uniform in (0, 1) */
    public double nextUniform() {
        return GaussianNoise.uniform(seed, sample, stream, position++);
    }

    /** @param lo lower bound @param hi upper bound @return a uniform in (lo, hi) */
    public double nextUniform(double lo, double hi) {
        return lo + (hi - lo) * nextUniform();
    }

    /** @param bound exclusive upper bound, positive @return a uniform integer in [0, bound) */
    public int nextInt(int bound) {
        if (bound <= 0) {
            throw io.senseflow.InvalidRequestException.of("bound", "a positive integer", bound);
        }
        return (int) Math.min(bound - 1, (long) Math.floor(nextUniform() * bound));
    }

    /** @return a standard normal (Box-Muller on two uniforms, strict math) */
    public double nextGaussian() {
        double u1 = nextUniform();
        double u2 = nextUniform();
        return Math.sqrt(-2.0 * StrictMath.log(u1)) * StrictMath.cos(2 * Math.PI * u2);
    }

    /** @return how many uniforms have been drawn */
    public long position() {
        return position;
    }
}
