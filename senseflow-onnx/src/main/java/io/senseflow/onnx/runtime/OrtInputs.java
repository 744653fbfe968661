package io.senseflow.onnx.runtime;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Named inputs for one {@link OrtModel#run} call: float {@link Tensor}s and integer ids. Values are converted to each
 * input's declared element type when the model runs (see {@link OrtModel}). Not thread-safe; build one per call.
 */
public final class OrtInputs {
    /** One value: floats in a tensor, or integer ids with their shape. */
    sealed interface Value permits Floats, Ids {
        int[] shape();
    }

    record Floats(Tensor tensor) implements Value {
        @Override
        public int[] shape() {
            return tensor.shape();
        }
    }

    record Ids(long[] values, int[] shape) implements Value {
    }

    private final Map<String, Value> values = new LinkedHashMap<>();

    private OrtInputs() {
    }

    /** @return an empty set of inputs */
    public static OrtInputs create() {
        return new OrtInputs();
    }

    /**
     * @param inputs named tensors
     * @return inputs holding them
     */
    public static OrtInputs of(Map<String, Tensor> inputs) {
        OrtInputs in = new OrtInputs();
        inputs.forEach(in::put);
        return in;
    }

    /**
     * @param name the input name
     * @param value the values (converted to the input's element type: fp16, bf16, double, or integers when every
     *     element is a whole number)
     * @return this
     */
    public OrtInputs put(String name, Tensor value) {
        return add(name, new Floats(Objects.requireNonNull(value, name)));
    }

    /**
     * @param name the input name
     * @param ids the ids in row-major order (the array is not copied; do not change it before the run)
     * @param shape their dimensions
     * @return this
     */
    public OrtInputs putIds(String name, long[] ids, int... shape) {
        Objects.requireNonNull(ids, name);
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw InvalidRequestException.of(name + " shape", "non-negative dimensions", Arrays.toString(shape));
            }
            n *= d;
        }
        if (n != ids.length) {
            throw InvalidRequestException.of(name, n + " ids for shape " + Arrays.toString(shape), ids.length + " ids");
        }
        return add(name, new Ids(ids, shape.clone()));
    }

    /**
     * @param name the input name
     * @param rows ids {@code [B][L]}, all rows of one length
     * @return this
     */
    public OrtInputs putIds(String name, long[][] rows) {
        int width = rows.length == 0 ? 0 : rows[0].length;
        long[] flat = new long[rows.length * width];
        for (int i = 0; i < rows.length; i++) {
            if (rows[i].length != width) {
                throw InvalidRequestException.of(name + "[" + i + "]", width + " ids like row 0", rows[i].length + " ids");
            }
            System.arraycopy(rows[i], 0, flat, i * width, width);
        }
        return add(name, new Ids(flat, new int[] {rows.length, width}));
    }

    /** @return the names set so far, in insertion order */
    public Set<String> names() {
        return Collections.unmodifiableSet(values.keySet());
    }

    Map<String, Value> values() {
        return values;
    }

    private OrtInputs add(String name, Value v) {
        Objects.requireNonNull(name, "name");
        if (values.putIfAbsent(name, v) != null) {
            throw new InvalidRequestException("input '" + name + "' was given twice");
        }
        return this;
    }
}
