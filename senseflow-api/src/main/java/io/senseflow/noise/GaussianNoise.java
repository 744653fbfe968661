package io.senseflow.noise;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * Seeded standard-normal noise that is a pure function of its coordinates.
 *
 * <p>Every value is addressed by a {@code (seed, sample, stream, element)} tuple and computed from it alone:
 * the 64-bit seed is the Philox4x32-10 key; the counter holds the sample index (32 bits), the stream (32 bits)
 * and the element block (64 bits). One Philox block gives four 32-bit words; each pair of words becomes two
 * normals by the Box-Muller transform, computed in double with {@link StrictMath} so the result does not depend
 * on JIT intrinsics. Element {@code e} is output {@code e % 4} of block {@code e / 4}.
 *
 * <p>Consequences the SDK relies on: sample {@code i} of a batch generated with seed {@code s} is identical to a
 * batch of one generated for {@code (s, i)}; the result does not depend on thread count or order; a stream id
 * separates independent uses (initial latents, the fresh noise of each sampling step, training draws) that
 * share a seed.
 *
 * <p>Streams below {@code 1 << 16} are used by the sampling pipeline (0 for initial noise, {@code 1 + k} for the
 * fresh noise of step k). Training code derives its own stream ids from {@link Streams}.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class GaussianNoise {
    private static final double TWO_PI = 2 * Math.PI;
    private static final double INV_2_32 = 0x1p-32;
    /** Below this many values a batch is drawn on the calling thread; above, in chunks on the common pool. */
    static final int PARALLEL_THRESHOLD = 4096;
    static final int CHUNK_ELEMENTS = 2048;

    private GaussianNoise() {
    }

    /**
     * Fills {@code out[from..from+count)} with the normals of elements {@code [0, count)} of one sample's stream.
     *
     * @param seed the seed (Philox key)
     * @param sample the sample index
     * @param stream the stream id
     * @param out destination
     * @param from first destination index
     * @param count how many values
     */
    public static void fill(long seed, long sample, int stream, float[] out, int from, int count) {
        fillBlocks(seed, sample, stream, out, from, count, 0, (count + 3) / 4);
    }

    /** Blocks {@code [firstBlock, endBlock)} of {@link #fill}: each block's four values depend on its index only. */
    private static void fillBlocks(long seed, long sample, int stream, float[] out, int from, int count,
                                   int firstBlock, int endBlock) {
        int k0 = (int) seed;
        int k1 = (int) (seed >>> 32);
        int[] words = new int[4];
        for (long block = firstBlock; block < endBlock; block++) {
            Philox.block(k0, k1, (int) block, (int) (block >>> 32), (int) sample, stream ^ (int) (sample >>> 32), words);
            double r1 = Math.sqrt(-2.0 * StrictMath.log(unit(words[0])));
            double t1 = TWO_PI * unit(words[1]);
            double r2 = Math.sqrt(-2.0 * StrictMath.log(unit(words[2])));
            double t2 = TWO_PI * unit(words[3]);
            int base = (int) (block * 4);
            put(out, from, base, count, (float) (r1 * StrictMath.cos(t1)));
            put(out, from, base + 1, count, (float) (r1 * StrictMath.sin(t1)));
            put(out, from, base + 2, count, (float) (r2 * StrictMath.cos(t2)));
            put(out, from, base + 3, count, (float) (r2 * StrictMath.sin(t2)));
        }
    }

    /**
     * Noise for a batch: sample {@code b} is stream {@code stream} of {@code keys[b]}.
     *
     * @param keys one key per sample
     * @param stream the stream id
     * @param shape the tensor shape; dimension 0 must equal {@code keys.length}
     * @return the noise tensor
     */
    public static Tensor sample(NoiseKey[] keys, int stream, int... shape) {
        if (shape.length == 0 || shape[0] != keys.length) {
            throw InvalidRequestException.of("noise shape", "batch dimension " + keys.length, Arrays.toString(shape));
        }
        long total = 1;
        for (int d : shape) {
            total *= d;
        }
        int per = (int) (total / Math.max(keys.length, 1));
        float[] data = new float[(int) total];
        if (total < PARALLEL_THRESHOLD || Runtime.getRuntime().availableProcessors() < 2) {
            for (int b = 0; b < keys.length; b++) {
                fill(keys[b].seed(), keys[b].sample(), stream, data, b * per, per);
            }
        } else {
            // chunks of blocks filled in parallel: every value depends on its (key, stream, block) only, so the bits
            // are those of the serial loop whatever the thread count (tested)
            int blocksPer = (per + 3) / 4;
            int chunk = Math.max(1, CHUNK_ELEMENTS / 4);
            int chunksPer = (blocksPer + chunk - 1) / chunk;
            IntStream.range(0, keys.length * chunksPer).parallel().forEach(t -> {
                int b = t / chunksPer;
                int first = (t % chunksPer) * chunk;
                fillBlocks(keys[b].seed(), keys[b].sample(), stream, data, b * per, per, first,
                        Math.min(blocksPer, first + chunk));
            });
        }
        return Tensor.wrap(data, shape);
    }

    /**
     * Noise for a batch whose sample {@code b} uses key {@code (seed, firstSample + b)}.
     *
     * @param seed the seed
     * @param firstSample index of the first sample
     * @param stream the stream id
     * @param shape the tensor shape, batch first
     * @return the noise tensor
     */
    public static Tensor sample(long seed, long firstSample, int stream, int... shape) {
        NoiseKey[] keys = new NoiseKey[shape.length == 0 ? 0 : shape[0]];
        for (int b = 0; b < keys.length; b++) {
            keys[b] = new NoiseKey(seed, firstSample + b);
        }
        return sample(keys, stream, shape);
    }

    /**
     * A uniform double in (0, 1) from the same generator: word {@code element % 4} of the block, for training
     * draws that need uniforms rather than normals.
     *
     * @param seed the seed
     * @param sample the sample index
     * @param stream the stream id
     * @param element the element index
     * @return a uniform value strictly between 0 and 1
     */
    public static double uniform(long seed, long sample, int stream, long element) {
        int[] words = new int[4];
        long block = element >>> 2;
        Philox.block((int) seed, (int) (seed >>> 32), (int) block, (int) (block >>> 32), (int) sample,
                stream ^ (int) (sample >>> 32), words);
        return unit(words[(int) (element & 3)]);
    }

    /** Maps 32 random bits to (0, 1), never 0 (log-safe) and never 1. */
    private static double unit(int bits) {
        return ((bits & 0xffffffffL) + 0.5) * INV_2_32;
    }

    private static void put(float[] out, int from, int index, int count, float value) {
        if (index < count) {
            out[from + index] = value;
        }
    }
}
