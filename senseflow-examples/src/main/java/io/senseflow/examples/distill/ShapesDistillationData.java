package io.senseflow.examples.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.examples.shapes.ShapesDataset;
import io.senseflow.image.Image;
import io.senseflow.model.Conditioning;
import io.senseflow.model.ImageEncoder;
import io.senseflow.model.PromptEncoder;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.run.DataPlugin;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Distillation data for the Shapes task: each sample is a training-split Shapes image with its caption as the prompt;
 * the image, encoded by the teacher's autoencoder, is the real latent that the GAN term and the forward-noised
 * generator inputs use (docs/algorithm.md §4.1, §4.8). The held-out colour-shape pairs never appear.
 *
 * <p>Sample {@code b} of iteration {@code i} is Shapes sample {@code i * batchSize + b} of the data seed, so a batch
 * is a pure function of its arguments and a resumed run sees exactly the data of an uninterrupted one. Text embeddings
 * are computed once for all 720 captions of the split; the encoders are the caller's and stay open.
 */
public final class ShapesDistillationData implements DistillationDataset {
    private static final int ENCODE_CHUNK = 64;
    private final ShapesDataset shapes;
    private final PromptEncoder prompts;
    private final ImageEncoder images;
    private final int[] latentShape;
    private final Map<String, Conditioning> cache = new HashMap<>();

    /**
     * @param seed the data seed
     * @param prompts the teacher's prompt encoder
     * @param images the teacher's autoencoder encoder (images in [-1, 1] to generator-space latents)
     * @param latentShape one latent without the batch dimension, {@code [C, H, W]}
     */
    public ShapesDistillationData(long seed, PromptEncoder prompts, ImageEncoder images, int[] latentShape) {
        this.shapes = new ShapesDataset(seed, ShapesDataset.Split.TRAIN);
        this.prompts = prompts;
        this.images = images;
        this.latentShape = latentShape.clone();
    }

    /**
     * The Shapes data as a {@link DataPlugin} of a {@link io.senseflow.tf.run.DistillationRun}: the teacher's own
     * prompt encoder and autoencoder encoder, the run's latent shape. Its identity (recorded in the run's
     * {@code run.json}, required on resume) is the data seed.
     *
     * @param seed the data seed (the Shapes runs use the config's seed)
     */
    public record Plugin(long seed) implements DataPlugin {
        @Override
        public DistillationDataset create(Context c) {
            ImageEncoder encoder = c.teacher().imageEncoder().orElseThrow(() -> InvalidRequestException.of(
                    "teacher vae_encoder", "an autoencoder encoder (the Shapes images are encoded into real latents)",
                    "none"));
            return new ShapesDistillationData(seed, c.teacher().promptEncoder(), encoder, c.sampleShape());
        }

        @Override
        public String toString() {
            return "ShapesDistillationData.Plugin[seed=" + seed + "]";
        }
    }

    @Override
    public DistillationBatch batch(long iteration, int batchSize) {
        List<String> captions = new ArrayList<>(batchSize);
        List<Tensor> pixels = new ArrayList<>(batchSize);
        for (int b = 0; b < batchSize; b++) {
            Image image = shapes.image(iteration * batchSize + b);
            captions.add(image.metadata().get("caption"));
            pixels.add(image.toTensor());
        }
        Tensor latents = images.encode(Tensor.concatBatch(pixels));
        int[] expected = new int[latentShape.length + 1];
        expected[0] = batchSize;
        System.arraycopy(latentShape, 0, expected, 1, latentShape.length);
        if (!java.util.Arrays.equals(latents.shape(), expected)) {
            throw InvalidRequestException.of("teacher vae_encoder output", "latents of shape "
                    + java.util.Arrays.toString(expected), java.util.Arrays.toString(latents.shape()));
        }
        return new DistillationBatch(captions, conditioning(captions), null, latents);
    }

    @Override
    public int[] sampleShape() {
        return latentShape.clone();
    }

    /** @return the embeddings of the captions */
    private Conditioning conditioning(List<String> captions) {
        if (cache.isEmpty()) {
            encodeAll();
        }
        List<Conditioning> rows = new ArrayList<>(captions.size());
        for (String c : captions) {
            rows.add(cache.get(c));
        }
        return Conditioning.concat(rows);
    }

    /**
     * Encodes every caption of the split in a fixed order and fixed chunks: an embedding must not depend on which
     * batch first asked for it (a batch's composition can change the last bits of a matrix product), or a resumed run
     * would differ from an uninterrupted one.
     */
    private void encodeAll() {
        List<String> all = shapes.combinations().stream().map(a -> a.caption()).toList();
        for (int from = 0; from < all.size(); from += ENCODE_CHUNK) {
            List<String> chunk = all.subList(from, Math.min(all.size(), from + ENCODE_CHUNK));
            Conditioning c = prompts.encode(chunk);
            for (int i = 0; i < chunk.size(); i++) {
                cache.put(chunk.get(i), c.slice(i, i + 1));
            }
        }
    }
}
