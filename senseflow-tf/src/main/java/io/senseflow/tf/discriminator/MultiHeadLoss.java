package io.senseflow.tf.discriminator;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.Upstream;
import io.senseflow.train.UpstreamLoss;
import java.util.Arrays;

/**
 * The reference semantics of the {@link Upstream} loss forms for a multi-head discriminator, whose output is every
 * head's logit grid flattened and concatenated, {@code [B, G_1 + ... + G_H]}: each head's loss is averaged over its
 * own grid and the batch, then the heads are averaged,
 * {@code L = (1/H) sum_h (1/(B G_h)) sum_b sum_{g in head h} w_b f(y_{b,g})}, with {@code f(y) = scale y}
 * (linear), {@code relu(1 - sign y)} (hinge) or {@code (y - t)^2} (MSE). So a head with a 2x2 grid weighs as much
 * as one with a 16x16 grid. For one head this is {@link UpstreamLoss}'s uniform average.
 *
 * <p>Per element the coefficient {@code k = (w_b c_j) / B} with {@code c_j = 1 / (H G_h)} is computed in double; the
 * gradient is {@code (float) (scale k)}, {@code (float) (-sign k)} where the hinge is active, or
 * {@code (float) ((2 k) d)} with {@code d = y - t} in float; the loss is summed in double.
 * {@link Discriminator}'s in-graph forms compute exactly these operations. An explicit upstream is the gradient with
 * respect to the concatenated logits.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class MultiHeadLoss {
    private MultiHeadLoss() {
    }

    /**
     * @param headSizes grid size {@code G_h} of each head
     * @return {@code c_j = 1 / (H G_h)} for every column of the concatenated logits
     */
    public static double[] columnWeights(int[] headSizes) {
        int total = Arrays.stream(headSizes).sum();
        double[] c = new double[total];
        int j = 0;
        for (int size : headSizes) {
            if (size < 1) {
                throw InvalidRequestException.of("head grid size", "at least 1", size);
            }
            for (int g = 0; g < size; g++) {
                c[j++] = 1.0 / ((double) headSizes.length * size);
            }
        }
        return c;
    }

    /**
     * @param upstream the upstream form
     * @param logits the concatenated logits {@code [B, sum G_h]}
     * @param headSizes grid size of each head
     * @return the loss (NaN for explicit) and the gradient with respect to the logits
     */
    public static UpstreamLoss.Evaluated evaluate(Upstream upstream, Tensor logits, int[] headSizes) {
        if (upstream instanceof Upstream.Explicit e) {
            if (!e.gradient().sameShape(logits)) {
                throw InvalidRequestException.of("upstream gradient", "shape " + Arrays.toString(logits.shape()),
                        Arrays.toString(e.gradient().shape()));
            }
            return new UpstreamLoss.Evaluated(Double.NaN, e.gradient());
        }
        double[] c = columnWeights(headSizes);
        int batch = logits.batch();
        int cols = logits.sampleSize();
        if (cols != c.length) {
            throw InvalidRequestException.of("discriminator logits", c.length + " values per sample", cols);
        }
        float[] w = upstream.weights();
        if (w != null && w.length != batch) {
            throw InvalidRequestException.of("upstream weights", batch + " per-sample values", w.length);
        }
        float[] y = logits.toArray();
        float[] t = upstream instanceof Upstream.Mse m ? m.target().toArray() : null;
        if (t != null && !((Upstream.Mse) upstream).target().sameShape(logits)) {
            throw InvalidRequestException.of("mse target", "shape " + Arrays.toString(logits.shape()),
                    Arrays.toString(((Upstream.Mse) upstream).target().shape()));
        }
        float[] grad = new float[y.length];
        double loss = 0;
        for (int b = 0; b < batch; b++) {
            double wb = w == null ? 1.0 : w[b];
            for (int j = 0; j < cols; j++) {
                int i = b * cols + j;
                double k = wb * c[j] / batch;
                if (upstream instanceof Upstream.Linear l) {
                    grad[i] = (float) (l.scale() * k);
                    loss += l.scale() * k * y[i];
                } else if (upstream instanceof Upstream.Hinge h) {
                    float margin = 1f - h.sign() * y[i];
                    if (margin > 0) {
                        grad[i] = (float) (-h.sign() * k);
                        loss += k * margin;
                    }
                } else {
                    float d = y[i] - t[i];
                    grad[i] = (float) ((2 * k) * d);
                    loss += k * d * d;
                }
            }
        }
        return new UpstreamLoss.Evaluated(loss, Tensor.wrap(grad, logits.shape()));
    }
}
