package io.senseflow.tensor;

import io.senseflow.InvalidRequestException;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * An immutable dense float tensor in row-major order: the value type for what crosses the API (latents,
 * embeddings, images, gradients).
 *
 * <p>Not a math library: it offers what schedulers, pipelines and the distillation engine need, mostly
 * per-sample linear combinations ({@link #combine(float[], Tensor, float[], Tensor)}), reductions per sample and
 * batch slicing. Dimension 0 is the batch dimension wherever an operation speaks of samples.
 *
 * <p>Instances never change after construction, so views ({@link #sliceBatch}, {@link #reshape}) share storage
 * safely and tensors may be shared between threads. {@link #wrap(float[], int...)} hands an array over without a
 * copy: the caller must not modify it afterwards.
 */
public final class Tensor {
    private final int[] shape;
    private final float[] data;
    private final int offset;
    private final int size;

    private Tensor(float[] data, int offset, int[] shape) {
        this.shape = shape;
        this.data = data;
        this.offset = offset;
        this.size = sizeOf(shape);
    }

    /**
     * A tensor holding a copy of {@code values}.
     *
     * @param values the elements in row-major order
     * @param shape the dimensions; their product must equal {@code values.length}
     * @return the tensor
     */
    public static Tensor of(float[] values, int... shape) {
        return wrap(values.clone(), shape);
    }

    /**
     * A tensor that takes ownership of {@code values} without copying; the caller must not modify the array
     * afterwards.
     *
     * @param values the elements in row-major order
     * @param shape the dimensions; their product must equal {@code values.length}
     * @return the tensor
     */
    public static Tensor wrap(float[] values, int... shape) {
        Objects.requireNonNull(values, "values");
        int[] s = checkShape(shape);
        if (sizeOf(s) != values.length) {
            throw InvalidRequestException.of("tensor data", sizeOf(s) + " elements for shape " + Arrays.toString(s),
                    values.length + " elements");
        }
        return new Tensor(values, 0, s);
    }

    /** A 1-D tensor of the given values. @param values the values @return the tensor */
    public static Tensor vector(float... values) {
        return of(values, values.length);
    }

    /** A tensor of zeros. @param shape the dimensions @return the tensor */
    public static Tensor zeros(int... shape) {
        int[] s = checkShape(shape);
        return new Tensor(new float[sizeOf(s)], 0, s);
    }

    /** A tensor with every element set to {@code value}. @param value the value @param shape the dimensions @return the tensor */
    public static Tensor full(float value, int... shape) {
        int[] s = checkShape(shape);
        float[] d = new float[sizeOf(s)];
        Arrays.fill(d, value);
        return new Tensor(d, 0, s);
    }

    /**
     * Decodes IEEE half-precision bits into a float tensor.
     *
     * @param bits the fp16 values
     * @param shape the dimensions
     * @return the tensor
     */
    public static Tensor fromFloat16(short[] bits, int... shape) {
        return wrap(HalfPrecision.float16ToFloat(bits), shape);
    }

    /**
     * Decodes bfloat16 bits into a float tensor.
     *
     * @param bits the bf16 values
     * @param shape the dimensions
     * @return the tensor
     */
    public static Tensor fromBfloat16(short[] bits, int... shape) {
        return wrap(HalfPrecision.bfloat16ToFloat(bits), shape);
    }

    // ---------------------------------------------------------------- shape

    /** @return a copy of the dimensions */
    public int[] shape() {
        return shape.clone();
    }

    /** @return the number of dimensions */
    public int rank() {
        return shape.length;
    }

    /** @param axis the axis, negative counts from the end @return the size of that dimension */
    public int dim(int axis) {
        int a = axis < 0 ? axis + shape.length : axis;
        if (a < 0 || a >= shape.length) {
            throw InvalidRequestException.of("axis", "in [" + -shape.length + ", " + shape.length + ")", axis);
        }
        return shape[a];
    }

    /** @return the total number of elements */
    public int size() {
        return size;
    }

    /** @return the size of dimension 0, the batch */
    public int batch() {
        return shape.length == 0 ? 1 : shape[0];
    }

    /** @return the number of elements per sample (all dimensions but the first) */
    public int sampleSize() {
        return shape.length == 0 ? 1 : size / Math.max(shape[0], 1);
    }

    /** @param other another tensor @return whether both have the same dimensions */
    public boolean sameShape(Tensor other) {
        return Arrays.equals(shape, other.shape);
    }

    // ---------------------------------------------------------------- access

    /** @param index a row-major flat index @return the element */
    public float get(int index) {
        Objects.checkIndex(index, size);
        return data[offset + index];
    }

    /** @param indices one index per dimension @return the element */
    public float at(int... indices) {
        if (indices.length != shape.length) {
            throw InvalidRequestException.of("indices", shape.length + " indices", indices.length);
        }
        int flat = 0;
        for (int i = 0; i < indices.length; i++) {
            flat = flat * shape[i] + Objects.checkIndex(indices[i], shape[i]);
        }
        return data[offset + flat];
    }

    /** @return a fresh copy of the elements in row-major order */
    public float[] toArray() {
        return Arrays.copyOfRange(data, offset, offset + size);
    }

    /**
     * Copies the elements into {@code dst}.
     *
     * @param dst the destination
     * @param dstOffset where the first element goes
     */
    public void copyTo(float[] dst, int dstOffset) {
        System.arraycopy(data, offset, dst, dstOffset, size);
    }

    /** @return a read-only buffer over the elements, without copying */
    public FloatBuffer buffer() {
        return FloatBuffer.wrap(data, offset, size).slice().asReadOnlyBuffer();
    }

    /** @return the elements as IEEE half-precision bits (round to nearest even) */
    public short[] toFloat16() {
        return HalfPrecision.floatToFloat16(toArray());
    }

    /** @return the elements as bfloat16 bits (round to nearest even) */
    public short[] toBfloat16() {
        return HalfPrecision.floatToBfloat16(toArray());
    }

    // ---------------------------------------------------------------- views and copies

    /**
     * A view with new dimensions over the same elements; one dimension may be -1 and is inferred.
     *
     * @param newShape the dimensions
     * @return the view
     */
    public Tensor reshape(int... newShape) {
        int[] s = newShape.clone();
        int infer = -1;
        int known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1 && infer < 0) {
                infer = i;
            } else {
                if (s[i] < 0) {
                    throw InvalidRequestException.of("shape", "non-negative dimensions (one -1 allowed)", Arrays.toString(newShape));
                }
                known *= s[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || size % known != 0) {
                throw InvalidRequestException.of("shape", "a shape compatible with " + size + " elements", Arrays.toString(newShape));
            }
            s[infer] = size / known;
        }
        if (sizeOf(s) != size) {
            throw InvalidRequestException.of("shape", size + " elements", Arrays.toString(newShape) + " (" + sizeOf(s) + " elements)");
        }
        return new Tensor(data, offset, s);
    }

    /**
     * A view of samples {@code [from, to)} along dimension 0.
     *
     * @param from first sample, inclusive
     * @param to last sample, exclusive
     * @return the view
     */
    public Tensor sliceBatch(int from, int to) {
        requireBatched();
        if (from < 0 || to > shape[0] || from > to) {
            throw InvalidRequestException.of("batch slice", "0 <= from <= to <= " + shape[0], "[" + from + ", " + to + ")");
        }
        int[] s = shape.clone();
        s[0] = to - from;
        return new Tensor(data, offset + from * sampleSize(), s);
    }

    /** @param index the sample @return a view of one sample, keeping a batch dimension of 1 */
    public Tensor sample(int index) {
        return sliceBatch(index, index + 1);
    }

    /** @return a tensor with its own compact storage (useful to drop a large parent array) */
    public Tensor copy() {
        return new Tensor(toArray(), 0, shape.clone());
    }

    /**
     * Concatenates tensors along dimension 0; all other dimensions must agree.
     *
     * @param parts the tensors, at least one
     * @return the concatenation
     */
    public static Tensor concatBatch(List<Tensor> parts) {
        if (parts.isEmpty()) {
            throw InvalidRequestException.of("parts", "at least one tensor", "none");
        }
        Tensor first = parts.get(0);
        first.requireBatched();
        int batch = 0;
        for (Tensor t : parts) {
            t.requireBatched();
            if (t.rank() != first.rank() || !Arrays.equals(t.shape, 1, t.rank(), first.shape, 1, first.rank())) {
                throw InvalidRequestException.of("concatBatch", "matching trailing dimensions " + Arrays.toString(first.shape),
                        Arrays.toString(t.shape));
            }
            batch += t.shape[0];
        }
        int[] s = first.shape.clone();
        s[0] = batch;
        float[] out = new float[sizeOf(s)];
        int pos = 0;
        for (Tensor t : parts) {
            t.copyTo(out, pos);
            pos += t.size;
        }
        return new Tensor(out, 0, s);
    }

    /** @param parts tensors to concatenate along dimension 0 @return the concatenation */
    public static Tensor concatBatch(Tensor... parts) {
        return concatBatch(List.of(parts));
    }

    /**
     * Repeats every sample {@code times} times in place: {@code [a, b]} becomes {@code [a, a, b, b]}.
     *
     * @param times repetitions per sample, at least 1
     * @return the repeated tensor
     */
    public Tensor repeatEach(int times) {
        requireBatched();
        if (times < 1) {
            throw InvalidRequestException.of("times", ">= 1", times);
        }
        if (times == 1) {
            return this;
        }
        int n = sampleSize();
        int[] s = shape.clone();
        s[0] *= times;
        float[] out = new float[size * times];
        for (int b = 0; b < shape[0]; b++) {
            for (int r = 0; r < times; r++) {
                System.arraycopy(data, offset + b * n, out, (b * times + r) * n, n);
            }
        }
        return new Tensor(out, 0, s);
    }

    // ---------------------------------------------------------------- arithmetic

    /**
     * Per-sample linear combination {@code a[b] * x + c[b] * y}, the one update every flow step is made of.
     *
     * @param a one coefficient per sample of {@code x}
     * @param x a tensor
     * @param c one coefficient per sample of {@code y}
     * @param y a tensor of the same shape as {@code x}
     * @return the combination
     */
    public static Tensor combine(float[] a, Tensor x, float[] c, Tensor y) {
        x.requireSameShape(y, "combine");
        int batch = x.batch();
        if (a.length != batch || c.length != batch) {
            throw InvalidRequestException.of("combine coefficients", batch + " per-sample values",
                    a.length + " and " + c.length);
        }
        int n = x.sampleSize();
        float[] out = new float[x.size];
        for (int b = 0; b < batch; b++) {
            float ab = a[b];
            float cb = c[b];
            int base = b * n;
            for (int i = 0; i < n; i++) {
                out[base + i] = ab * x.data[x.offset + base + i] + cb * y.data[y.offset + base + i];
            }
        }
        return new Tensor(out, 0, x.shape.clone());
    }

    /**
     * Linear combination {@code a * x + c * y} with scalar coefficients.
     *
     * @param a coefficient of x
     * @param x a tensor
     * @param c coefficient of y
     * @param y a tensor of the same shape
     * @return the combination
     */
    public static Tensor combine(float a, Tensor x, float c, Tensor y) {
        x.requireSameShape(y, "combine");
        float[] out = new float[x.size];
        for (int i = 0; i < out.length; i++) {
            out[i] = a * x.data[x.offset + i] + c * y.data[y.offset + i];
        }
        return new Tensor(out, 0, x.shape.clone());
    }

    /** @param other same shape @return {@code this + other} */
    public Tensor add(Tensor other) {
        return combine(1f, this, 1f, other);
    }

    /** @param other same shape @return {@code this - other} */
    public Tensor sub(Tensor other) {
        return combine(1f, this, -1f, other);
    }

    /** @param alpha scale of other @param other same shape @return {@code this + alpha * other} (axpy) */
    public Tensor addScaled(float alpha, Tensor other) {
        return combine(1f, this, alpha, other);
    }

    /** @param other same shape @return the element-wise product */
    public Tensor mul(Tensor other) {
        requireSameShape(other, "mul");
        float[] out = new float[size];
        for (int i = 0; i < size; i++) {
            out[i] = data[offset + i] * other.data[other.offset + i];
        }
        return new Tensor(out, 0, shape.clone());
    }

    /** @param factor the factor @return {@code factor * this} */
    public Tensor scale(float factor) {
        float[] out = new float[size];
        for (int i = 0; i < size; i++) {
            out[i] = factor * data[offset + i];
        }
        return new Tensor(out, 0, shape.clone());
    }

    /** @param factors one factor per sample @return each sample scaled by its factor */
    public Tensor scalePerSample(float[] factors) {
        requireBatched();
        if (factors.length != batch()) {
            throw InvalidRequestException.of("factors", batch() + " per-sample values", factors.length);
        }
        int n = sampleSize();
        float[] out = new float[size];
        for (int b = 0; b < factors.length; b++) {
            for (int i = 0; i < n; i++) {
                out[b * n + i] = factors[b] * data[offset + b * n + i];
            }
        }
        return new Tensor(out, 0, shape.clone());
    }

    /**
     * Linear interpolation {@code a + t (b - a)}.
     *
     * @param a start
     * @param b end, same shape
     * @param t the weight of {@code b}
     * @return the interpolation
     */
    public static Tensor lerp(Tensor a, Tensor b, float t) {
        return combine(1f - t, a, t, b);
    }

    /**
     * Applies a function to every element.
     *
     * @param f the function
     * @return the mapped tensor
     */
    public Tensor map(FloatUnaryOperator f) {
        float[] out = new float[size];
        for (int i = 0; i < size; i++) {
            out[i] = f.apply(data[offset + i]);
        }
        return new Tensor(out, 0, shape.clone());
    }

    /** A float-to-float function. */
    @FunctionalInterface
    public interface FloatUnaryOperator {
        /** @param x the input @return the output */
        float apply(float x);
    }

    // ---------------------------------------------------------------- reductions

    /** @return the mean of all elements, accumulated in double */
    public double mean() {
        return sum() / size;
    }

    /** @return the sum of all elements, accumulated in double */
    public double sum() {
        double s = 0;
        for (int i = 0; i < size; i++) {
            s += data[offset + i];
        }
        return s;
    }

    /** @return the sum of squares, accumulated in double */
    public double sumOfSquares() {
        double s = 0;
        for (int i = 0; i < size; i++) {
            double v = data[offset + i];
            s += v * v;
        }
        return s;
    }

    /** @return the largest absolute value (NaN if any element is NaN) */
    public float maxAbs() {
        float m = 0;
        for (int i = 0; i < size; i++) {
            float v = Math.abs(data[offset + i]);
            if (Float.isNaN(v)) {
                return Float.NaN;
            }
            m = Math.max(m, v);
        }
        return m;
    }

    /** @return the mean of each sample (over all non-batch dimensions) */
    public double[] meanPerSample() {
        requireBatched();
        int n = sampleSize();
        double[] out = new double[batch()];
        for (int b = 0; b < out.length; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += data[offset + b * n + i];
            }
            out[b] = s / n;
        }
        return out;
    }

    /** @return the mean absolute value of each sample */
    public double[] meanAbsPerSample() {
        requireBatched();
        int n = sampleSize();
        double[] out = new double[batch()];
        for (int b = 0; b < out.length; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += Math.abs(data[offset + b * n + i]);
            }
            out[b] = s / n;
        }
        return out;
    }

    /** @return the number of NaN or infinite elements */
    public int countNonFinite() {
        int c = 0;
        for (int i = 0; i < size; i++) {
            if (!Float.isFinite(data[offset + i])) {
                c++;
            }
        }
        return c;
    }

    /** @return whether every element is finite */
    public boolean isFinite() {
        return countNonFinite() == 0;
    }

    // ---------------------------------------------------------------- object

    /** Bitwise equality of shape and elements (NaNs with the same bits are equal). */
    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Tensor)) {
            return false;
        }
        Tensor t = (Tensor) o;
        if (!Arrays.equals(shape, t.shape)) {
            return false;
        }
        for (int i = 0; i < size; i++) {
            if (Float.floatToRawIntBits(data[offset + i]) != Float.floatToRawIntBits(t.data[t.offset + i])) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int hashCode() {
        int h = Arrays.hashCode(shape);
        for (int i = 0; i < size; i++) {
            h = 31 * h + Float.floatToRawIntBits(data[offset + i]);
        }
        return h;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Tensor").append(Arrays.toString(shape)).append(" [");
        int n = Math.min(size, 8);
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : ", ").append(data[offset + i]);
        }
        return sb.append(size > n ? ", ...]" : "]").toString();
    }

    // ---------------------------------------------------------------- helpers

    private void requireBatched() {
        if (shape.length == 0) {
            throw new InvalidRequestException("tensor: expected a batch dimension, got a scalar");
        }
    }

    private void requireSameShape(Tensor other, String op) {
        if (!Arrays.equals(shape, other.shape)) {
            throw InvalidRequestException.of(op, "equal shapes " + Arrays.toString(shape), Arrays.toString(other.shape));
        }
    }

    private static int[] checkShape(int[] shape) {
        Objects.requireNonNull(shape, "shape");
        for (int d : shape) {
            if (d < 0) {
                throw InvalidRequestException.of("shape", "non-negative dimensions", Arrays.toString(shape));
            }
        }
        return shape.clone();
    }

    private static int sizeOf(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
            if (n > Integer.MAX_VALUE) {
                throw InvalidRequestException.of("shape", "at most " + Integer.MAX_VALUE + " elements", Arrays.toString(shape));
            }
        }
        return (int) n;
    }
}
