package io.senseflow.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;

/**
 * The reference semantics of the {@link Upstream} loss forms for a module whose output elements are averaged
 * uniformly: the loss value and {@code dL/d(output)}. Backends that evaluate the forms in their own graph must
 * agree with this.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class UpstreamLoss {
    private UpstreamLoss() {
    }

    /**
     * @param loss the loss (NaN for explicit)
     * @param gradient dL/d(output)
     */
    public record Evaluated(double loss, Tensor gradient) {
    }

    /**
     * @param upstream the upstream form
     * @param output the module's output
     * @return loss and gradient
     */
    public static Evaluated evaluate(Upstream upstream, Tensor output) {
        if (upstream instanceof Upstream.Explicit e) {
            if (!e.gradient().sameShape(output)) {
                throw InvalidRequestException.of("upstream gradient", "shape " + Arrays.toString(output.shape()),
                        Arrays.toString(e.gradient().shape()));
            }
            return new Evaluated(Double.NaN, e.gradient());
        }
        int batch = output.batch();
        int per = output.sampleSize();
        int n = output.size();
        float[] w = upstream.weights();
        if (w != null && w.length != batch) {
            throw InvalidRequestException.of("upstream weights", batch + " per-sample values", w.length);
        }
        float[] out = output.toArray();
        float[] grad = new float[n];
        double loss = 0;
        if (upstream instanceof Upstream.Mse m) {
            if (!m.target().sameShape(output)) {
                throw InvalidRequestException.of("mse target", "shape " + Arrays.toString(output.shape()),
                        Arrays.toString(m.target().shape()));
            }
            float[] t = m.target().toArray();
            for (int b = 0; b < batch; b++) {
                float wb = w == null ? 1f : w[b];
                for (int i = b * per; i < (b + 1) * per; i++) {
                    float d = out[i] - t[i];
                    loss += (double) wb * d * d;
                    grad[i] = 2f * wb * d / n;
                }
            }
        } else if (upstream instanceof Upstream.Linear l) {
            for (int b = 0; b < batch; b++) {
                float wb = w == null ? 1f : w[b];
                for (int i = b * per; i < (b + 1) * per; i++) {
                    loss += l.scale() * wb * out[i];
                    grad[i] = (float) (l.scale() * wb / n);
                }
            }
        } else if (upstream instanceof Upstream.Hinge h) {
            for (int b = 0; b < batch; b++) {
                float wb = w == null ? 1f : w[b];
                for (int i = b * per; i < (b + 1) * per; i++) {
                    float margin = 1f - h.sign() * out[i];
                    if (margin > 0) {
                        loss += (double) wb * margin;
                        grad[i] = -h.sign() * wb / (float) n;
                    }
                }
            }
        } else {
            throw new AssertionError(upstream);
        }
        return new Evaluated(loss / n, Tensor.wrap(grad, output.shape()));
    }
}
