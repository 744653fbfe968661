package io.senseflow.reference;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.ParameterStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parameters held in Java float arrays. Not thread-safe: a module's parameters belong to its training loop.
 */
public final class ArrayParameterStore implements ParameterStore {
    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Map<String, int[]> shapes = new LinkedHashMap<>();

    /**
     * Adds a parameter (initial value copied).
     *
     * @param name unique name
     * @param value initial value
     * @param shape its shape
     */
    public void add(String name, float[] value, int... shape) {
        if (values.containsKey(name)) {
            throw InvalidRequestException.of("parameter name", "unique", name);
        }
        Tensor t = Tensor.of(value, shape); // validates
        values.put(name, t.toArray());
        shapes.put(name, shape.clone());
    }

    /**
     * Direct access for the owning module's hot loops.
     *
     * @param name parameter name
     * @return the live array (mutations change the parameter)
     */
    float[] array(String name) {
        float[] v = values.get(name);
        if (v == null) {
            throw InvalidRequestException.of("parameter", "one of " + values.keySet(), name);
        }
        return v;
    }

    @Override
    public List<ParameterSpec> specs() {
        List<ParameterSpec> out = new ArrayList<>();
        shapes.forEach((n, s) -> out.add(new ParameterSpec(n, s)));
        return out;
    }

    @Override
    public Tensor read(String name) {
        return Tensor.of(array(name), shapes.get(name));
    }

    @Override
    public void write(String name, Tensor value) {
        float[] target = array(name);
        if (!Arrays.equals(value.shape(), shapes.get(name))) {
            throw InvalidRequestException.of("parameter " + name, "shape " + Arrays.toString(shapes.get(name)),
                    Arrays.toString(value.shape()));
        }
        value.copyTo(target, 0);
    }

    @Override
    public void blendFrom(ParameterStore source, double keep) {
        if (!(source instanceof ArrayParameterStore other)) {
            ParameterStore.super.blendFrom(source, keep);
            return;
        }
        ParameterStore.requireSameArchitecture(this, source, "blendFrom");
        if (!(keep >= 0 && keep <= 1)) {
            throw InvalidRequestException.of("keep", "a weight in [0, 1]", keep);
        }
        for (String name : values.keySet()) {
            float[] mine = values.get(name);
            float[] theirs = other.values.get(name);
            for (int i = 0; i < mine.length; i++) {
                mine[i] = (float) (keep * mine[i] + (1 - keep) * theirs[i]);
            }
        }
    }

    /** @return an independent copy */
    public ArrayParameterStore copy() {
        ArrayParameterStore c = new ArrayParameterStore();
        values.forEach((n, v) -> c.add(n, v, shapes.get(n)));
        return c;
    }
}
