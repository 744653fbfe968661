package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.noise.RandomStream;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;

/**
 * Which part of every global batch one data-parallel worker computes: worker {@code rank} of {@code size} takes the
 * contiguous samples {@code [rank * B, (rank + 1) * B)} of the global batch, {@code B = globalBatch / size}. Every
 * per-sample random draw is made as if the whole global batch were drawn and this slice kept, so the samples, their
 * noise and their timesteps are the same whatever the number of workers; with gradients averaged over the workers
 * before each clip and step, N workers follow the single-process run at the same global batch up to float rounding.
 *
 * <p>{@link #single()} (rank 0 of 1) is the ordinary one-process run and changes nothing.
 *
 * @param rank this worker, {@code 0 <= rank < size}
 * @param size the number of workers
 */
public record DataShard(int rank, int size) {

    /** Checks the coordinates. */
    public DataShard {
        if (size < 1) {
            throw InvalidRequestException.of("data-parallel workers", "at least 1", size);
        }
        if (rank < 0 || rank >= size) {
            throw InvalidRequestException.of("data-parallel worker index", "0.." + (size - 1), rank);
        }
    }

    /** @return the one-process shard (rank 0 of 1) */
    public static DataShard single() {
        return new DataShard(0, 1);
    }

    /**
     * @param globalBatch the config's batch size
     * @return this worker's share of it
     * @throws InvalidRequestException if the global batch does not divide evenly
     */
    public int localBatch(int globalBatch) {
        if (globalBatch % size != 0) {
            throw InvalidRequestException.of("batchSize", "a multiple of the " + size + " data-parallel workers",
                    globalBatch);
        }
        return globalBatch / size;
    }

    /** @param globalBatch the global batch size @return the first global sample index of this worker */
    public int from(int globalBatch) {
        return rank * localBatch(globalBatch);
    }

    /**
     * @param iteration the iteration
     * @param globalBatch the global batch size
     * @return the noise sample coordinate of this worker's first sample in that iteration
     */
    public long sampleOffset(long iteration, int globalBatch) {
        return iteration * globalBatch + from(globalBatch);
    }

    /** @param global per-sample values of the global batch @return this worker's slice */
    public double[] slice(double[] global) {
        int from = from(global.length);
        return Arrays.copyOfRange(global, from, from + localBatch(global.length));
    }

    /** @param global per-sample values of the global batch @return this worker's slice */
    public int[] slice(int[] global) {
        int from = from(global.length);
        return Arrays.copyOfRange(global, from, from + localBatch(global.length));
    }

    /**
     * @param sampler a timestep sampler
     * @param globalBatch the global batch size
     * @param rng the draw's stream
     * @return the draws of this worker's samples, taken from a draw at the global batch size
     */
    public double[] sample(TimestepSampler sampler, int globalBatch, RandomStream rng) {
        return slice(sampler.sample(globalBatch, rng));
    }

    /**
     * Advances a stream past the draws of the workers before this one, for consumers that take exactly
     * {@code perSample} uniforms per sample in sample order (the guidance-scale draws).
     *
     * @param rng the stream, at position 0
     * @param globalBatch the global batch size
     * @param perSample uniforms each sample consumes
     * @return {@code rng}
     */
    public RandomStream skipEarlier(RandomStream rng, int globalBatch, int perSample) {
        long n = (long) from(globalBatch) * perSample;
        for (long i = 0; i < n; i++) {
            rng.nextUniform();
        }
        return rng;
    }

    /**
     * @param global the dataset's batch at the global batch size
     * @return this worker's samples of it (prompts, cached conditioning, real samples)
     */
    public DistillationBatch slice(DistillationBatch global) {
        if (size == 1) {
            return global;
        }
        int n = global.size();
        int from = from(n);
        int to = from + localBatch(n);
        Conditioning c = global.conditioning() == null ? null : global.conditioning().slice(from, to);
        Conditioning u = global.unconditional() == null ? null : global.unconditional().slice(from, to);
        Tensor r = global.realSamples() == null ? null : global.realSamples().sliceBatch(from, to);
        float[] g = global.guidance() == null ? null : java.util.Arrays.copyOfRange(global.guidance(), from, to);
        return new DistillationBatch(global.prompts().isEmpty() ? global.prompts() : global.prompts().subList(from, to),
                c, u, r, g);
    }
}
