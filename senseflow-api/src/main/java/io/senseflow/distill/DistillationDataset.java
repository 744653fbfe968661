package io.senseflow.distill;

/**
 * Where a distillation run's prompts (and optionally real samples and cached embeddings) come from.
 * {@link #batch} must be a pure function of its arguments, so a resumed run sees exactly the data an
 * uninterrupted run would have seen.
 *
 * <p>Called from the training thread only: implementations need not be thread-safe.
 */
public interface DistillationDataset {

    /**
     * @param iteration the iteration
     * @param batchSize samples
     * @return that iteration's batch
     */
    DistillationBatch batch(long iteration, int batchSize);

    /** @return the shape of one generator sample without the batch dimension (e.g. {@code [C, H, W]}) */
    int[] sampleShape();
}
