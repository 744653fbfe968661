package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;

/**
 * The distance ISG minimises between the generator's segment step and its target (docs/algorithm.md §4.3). The
 * released code uses the pseudo-Huber form; the paper writes L2.
 *
 * <p>Its implementations are immutable records: safe to share between threads.
 */
public sealed interface SegmentDistance permits SegmentDistance.PseudoHuber, SegmentDistance.L2 {

    /**
     * @param loss the mean distance
     * @param gradient its gradient with respect to {@code xHat}
     */
    record Evaluated(double loss, Tensor gradient) {
    }

    /**
     * @param xHat the generator's step (the gradient flows here)
     * @param target the target, treated as a constant
     * @return mean loss and gradient
     */
    Evaluated evaluate(Tensor xHat, Tensor target);

    /** @return the released default, pseudo-Huber with {@code c = 1e-3} */
    static SegmentDistance pseudoHuber() {
        return new PseudoHuber(1e-3);
    }

    /**
     * {@code mean(sqrt(d^2 + c^2) - c)}; a difference of 0.1 with {@code c = 1e-3} gives 0.099005.
     *
     * @param c the transition scale, positive
     */
    record PseudoHuber(double c) implements SegmentDistance {
        public PseudoHuber {
            if (!(c > 0)) {
                throw InvalidRequestException.of("pseudo-Huber c", "a positive value", c);
            }
        }

        @Override
        public Evaluated evaluate(Tensor xHat, Tensor target) {
            float[] a = xHat.toArray();
            float[] b = target.toArray();
            float[] g = new float[a.length];
            double sum = 0;
            double c2 = c * c;
            for (int i = 0; i < a.length; i++) {
                double d = a[i] - b[i];
                double r = Math.sqrt(d * d + c2);
                sum += r - c;
                g[i] = (float) (d / r / a.length);
            }
            return new Evaluated(sum / a.length, Tensor.wrap(g, xHat.shape()));
        }
    }

    /** {@code mean(d^2)}. */
    record L2() implements SegmentDistance {
        @Override
        public Evaluated evaluate(Tensor xHat, Tensor target) {
            float[] a = xHat.toArray();
            float[] b = target.toArray();
            float[] g = new float[a.length];
            double sum = 0;
            for (int i = 0; i < a.length; i++) {
                double d = a[i] - b[i];
                sum += d * d;
                g[i] = (float) (2 * d / a.length);
            }
            return new Evaluated(sum / a.length, Tensor.wrap(g, xHat.shape()));
        }
    }
}
