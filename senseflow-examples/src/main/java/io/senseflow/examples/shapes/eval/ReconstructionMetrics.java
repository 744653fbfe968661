package io.senseflow.examples.shapes.eval;

import io.senseflow.examples.shapes.ClassifierTraining;
import io.senseflow.examples.shapes.ShapesCodec;
import io.senseflow.examples.shapes.ShapesDataset;
import io.senseflow.examples.shapes.ShapeAttributes;
import io.senseflow.examples.shapes.ShapeGeometry;
import io.senseflow.image.Image;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How well the autoencoder reconstructs Shapes images: PSNR (on 8-bit images, peak 1 on a [0, 1] scale) and, with a
 * judge, the classifier's all-attribute accuracy on the originals and on the reconstructions, per split.
 */
public final class ReconstructionMetrics {
    private ReconstructionMetrics() {
    }

    /**
     * @param codec the autoencoder
     * @param judge the evaluation classifier, or null
     * @param count images per split
     * @param seed the data seed (use one the autoencoder was not trained on)
     * @return per split ({@code train}, {@code held_out}): {@code psnr_db}, and with a judge {@code accuracy_originals}
     *     and {@code accuracy_reconstructions} (all five attributes right)
     */
    public static Map<String, Object> measure(ShapesCodec codec, AttributeJudge judge, int count, long seed) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (ShapesDataset.Split split : List.of(ShapesDataset.Split.TRAIN, ShapesDataset.Split.HELD_OUT)) {
            ClassifierTraining.Batch b = ClassifierTraining.batch(new ShapesDataset(seed, split), 0, count);
            Tensor recon = quantize(codec.decode(codec.encode(b.images())));
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("images", (long) count);
            m.put("psnr_db", psnr(b.images(), recon));
            Adherence geometry = new Adherence();
            geometry.add(b.attributes(), readByGeometry(recon));
            m.put("geometry_reader_on_reconstructions", geometry.toMap());
            if (judge != null) {
                Adherence orig = new Adherence();
                orig.add(b.attributes(), judge.judge(b.images()).predictions());
                Adherence rec = new Adherence();
                rec.add(b.attributes(), judge.judge(recon).predictions());
                m.put("accuracy_originals", orig.toMap());
                m.put("accuracy_reconstructions", rec.toMap());
            }
            out.put(split == ShapesDataset.Split.TRAIN ? "train" : "held_out", m);
        }
        return out;
    }

    /**
     * @param images {@code [B, 3, H, W]} in [-1, 1]
     * @return the attributes {@link ShapeGeometry} reads from each (exact geometry, no learning)
     */
    public static List<ShapeAttributes> readByGeometry(Tensor images) {
        List<ShapeAttributes> out = new ArrayList<>(images.batch());
        for (int i = 0; i < images.batch(); i++) {
            out.add(ShapeGeometry.read(Image.fromTensor(images, i, Map.of())));
        }
        return out;
    }

    /** @param images {@code [B, 3, H, W]} in [-1, 1] @return the same images rounded to 8 bits, as a user sees them */
    public static Tensor quantize(Tensor images) {
        List<Tensor> parts = new ArrayList<>(images.batch());
        for (int i = 0; i < images.batch(); i++) {
            parts.add(Image.fromTensor(images, i, Map.of()).toTensor());
        }
        return Tensor.concatBatch(parts);
    }

    /** @param a images in [-1, 1] @param b images in [-1, 1] @return the PSNR in dB over all pixels, peak 1 on [0, 1] */
    public static double psnr(Tensor a, Tensor b) {
        double mse = a.sub(b).sumOfSquares() / a.size() / 4; // [-1, 1] to [0, 1]: differences halve
        return 10 * Math.log10(1 / Math.max(mse, 1e-12));
    }
}
