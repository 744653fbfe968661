package io.senseflow.testing;

import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link DistillationDataset} over a {@link GaussianMixture}: prompts cycle through a fixed list (in the language
 * of {@link MixturePrompts}), and each sample's real point is an exact draw from the modes its prompt allows, as a
 * {@code [dim, 1, 1]} "image". A pure function of (seed, iteration, batch size), as the interface requires. For tests
 * and examples of the training loops (checkpoints, resume, backend parity).
 *
 * <p>Immutable (batches are a pure function of seed and iteration): safe to share between threads.
 */
public final class MixtureDataset implements DistillationDataset {
    private final GaussianMixture mixture;
    private final MixturePrompts prompts;
    private final List<String> promptSet;
    private final long seed;

    /**
     * @param mixture the data distribution
     * @param promptSet prompts to cycle through (e.g. {@code "all"}, {@code "modes 0,1"})
     * @param seed the draw seed
     */
    public MixtureDataset(GaussianMixture mixture, List<String> promptSet, long seed) {
        this.mixture = mixture;
        this.prompts = new MixturePrompts(mixture.components());
        this.promptSet = List.copyOf(promptSet);
        this.seed = seed;
        for (String p : this.promptSet) {
            prompts.parse(p);
        }
    }

    /** @return the prompt encoder matching the prompts */
    public MixturePrompts promptEncoder() {
        return prompts;
    }

    @Override
    public DistillationBatch batch(long iteration, int batchSize) {
        int dim = mixture.dimension();
        List<String> ps = new ArrayList<>(batchSize);
        float[] real = new float[dim * batchSize];
        for (int b = 0; b < batchSize; b++) {
            long index = iteration * batchSize + b;
            String p = promptSet.get((int) (index % promptSet.size()));
            ps.add(p);
            double[][] x = mixture.sample(1, prompts.parse(p), new RandomStream(seed, 17, index));
            for (int d = 0; d < dim; d++) {
                real[dim * b + d] = (float) x[0][d];
            }
        }
        return new DistillationBatch(ps, null, null, Tensor.wrap(real, batchSize, dim, 1, 1));
    }

    @Override
    public int[] sampleShape() {
        return new int[] {mixture.dimension(), 1, 1};
    }
}
