package io.senseflow.examples.shapes;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.model.Conditioning;
import io.senseflow.model.ImageEncoder;
import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * Shapes images as latents, with their captions' cached conditioning: the real samples of a flow-matching (teacher) or
 * distillation run. A fixed pool of {@code size} rendered images (samples {@code 0..size-1} of a {@link ShapesDataset})
 * is encoded once; batch {@code i} draws {@code n} pool entries uniformly with a counter-based stream keyed by
 * {@code (seed, i)}, so a batch is a pure function of its iteration (exact resume).
 */
public final class ShapesLatentDataset implements DistillationDataset {
    private static final int STREAM = 0x5C4E;
    private static final int CHUNK = 256;
    private final Tensor latents;
    private final List<ShapeAttributes> attributes;
    private final CaptionEmbeddings text;
    private final long seed;

    private ShapesLatentDataset(Tensor latents, List<ShapeAttributes> attributes, CaptionEmbeddings text, long seed) {
        this.latents = latents;
        this.attributes = attributes;
        this.text = text;
        this.seed = seed;
    }

    /**
     * Renders and encodes the pool.
     *
     * @param images where the images come from (use the TRAIN split for a teacher)
     * @param size pool size
     * @param encoder images to latents in the flow model's scale (not closed)
     * @param text the captions' conditioning
     * @param seed the seed of the batch draws
     * @return the dataset
     */
    public static ShapesLatentDataset encode(ShapesDataset images, int size, ImageEncoder encoder, CaptionEmbeddings text,
                                             long seed) {
        if (size < 1) {
            throw InvalidRequestException.of("pool size", "at least 1", size);
        }
        List<Tensor> parts = new ArrayList<>();
        List<ShapeAttributes> attrs = new ArrayList<>(size);
        for (int first = 0; first < size; first += CHUNK) {
            ClassifierTraining.Batch b = ClassifierTraining.batch(images, first, Math.min(CHUNK, size - first));
            parts.add(encoder.encode(b.images()));
            attrs.addAll(b.attributes());
        }
        return new ShapesLatentDataset(Tensor.concatBatch(parts), List.copyOf(attrs), text, seed);
    }

    /** @return the pool size */
    public int size() {
        return attributes.size();
    }

    /** @return the pool's latents {@code [size, C, h, w]} */
    public Tensor latents() {
        return latents;
    }

    /** @return the pool's attributes, in pool order */
    public List<ShapeAttributes> attributes() {
        return attributes;
    }

    /** @param iteration the iteration @param n the batch size @return the pool indices batch {@code iteration} draws */
    public int[] indices(long iteration, int n) {
        RandomStream r = new RandomStream(seed, STREAM, iteration);
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = r.nextInt(size());
        }
        return idx;
    }

    @Override
    public DistillationBatch batch(long iteration, int n) {
        int[] idx = indices(iteration, n);
        List<Tensor> x = new ArrayList<>(n);
        List<String> captions = new ArrayList<>(n);
        for (int i : idx) {
            x.add(latents.sliceBatch(i, i + 1));
            captions.add(attributes.get(i).caption());
        }
        Conditioning c = text.of(captions);
        return new DistillationBatch(captions, c, text.unconditional(n), Tensor.concatBatch(x));
    }

    @Override
    public int[] sampleShape() {
        int[] s = latents.shape();
        return new int[] {s[1], s[2], s[3]};
    }
}
