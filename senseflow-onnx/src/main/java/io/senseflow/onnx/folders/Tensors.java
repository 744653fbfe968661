package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;

/** The few rank-2/rank-3 tensor joins the prompt encoders need. */
final class Tensors {
    private Tensors() {
    }

    /** @return {@code [..., a_last + b_last]}: a and b joined along their last axis (same leading dims) */
    static Tensor concatLast(Tensor a, Tensor b) {
        int[] sa = a.shape();
        int[] sb = b.shape();
        if (sa.length != sb.length || !Arrays.equals(Arrays.copyOf(sa, sa.length - 1), Arrays.copyOf(sb, sb.length - 1))) {
            throw new InvalidRequestException("cannot join " + Arrays.toString(sa) + " and " + Arrays.toString(sb)
                    + " along the last axis: the leading dimensions differ");
        }
        int wa = sa[sa.length - 1];
        int wb = sb[sb.length - 1];
        int rows = a.size() / wa;
        float[] x = a.toArray();
        float[] y = b.toArray();
        float[] out = new float[rows * (wa + wb)];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(x, r * wa, out, r * (wa + wb), wa);
            System.arraycopy(y, r * wb, out, r * (wa + wb) + wa, wb);
        }
        int[] shape = sa.clone();
        shape[shape.length - 1] = wa + wb;
        return Tensor.wrap(out, shape);
    }

    /** @return {@code t} zero-padded on its last axis to {@code width} */
    static Tensor padLast(Tensor t, int width) {
        int w = t.dim(t.rank() - 1);
        if (w == width) {
            return t;
        }
        if (w > width) {
            throw new InvalidRequestException("cannot pad a last axis of " + w + " to " + width);
        }
        int[] shape = t.shape();
        shape[shape.length - 1] = width - w;
        return concatLast(t, Tensor.zeros(shape));
    }

    /** @return {@code [B, La + Lb, D]}: two token sequences joined along the sequence axis */
    static Tensor concatSequence(Tensor a, Tensor b) {
        if (a.rank() != 3 || b.rank() != 3 || a.dim(0) != b.dim(0) || a.dim(2) != b.dim(2)) {
            throw new InvalidRequestException("cannot join token sequences " + Arrays.toString(a.shape()) + " and "
                    + Arrays.toString(b.shape()) + ": batch and width must agree");
        }
        int n = a.dim(0);
        int sa = a.sampleSize();
        int sb = b.sampleSize();
        float[] x = a.toArray();
        float[] y = b.toArray();
        float[] out = new float[n * (sa + sb)];
        for (int i = 0; i < n; i++) {
            System.arraycopy(x, i * sa, out, i * (sa + sb), sa);
            System.arraycopy(y, i * sb, out, i * (sa + sb) + sa, sb);
        }
        return Tensor.wrap(out, n, a.dim(1) + b.dim(1), a.dim(2));
    }

    /** @return {@code t} with the samples where {@code zero[i]} is set replaced by zeros */
    static Tensor zeroSamples(Tensor t, boolean[] zero) {
        float[] v = t.toArray();
        int per = t.sampleSize();
        for (int i = 0; i < zero.length; i++) {
            if (zero[i]) {
                Arrays.fill(v, i * per, (i + 1) * per, 0f);
            }
        }
        return Tensor.wrap(v, t.shape());
    }
}
