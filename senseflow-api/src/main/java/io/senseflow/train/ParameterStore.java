package io.senseflow.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A module's named parameters. Backends keep the values where they compute (Java arrays, TensorFlow variables)
 * and override the bulk operations to run there when both stores are theirs; the defaults go through
 * {@link #read}/{@link #write}.
 *
 * <p>Called from the training thread only: implementations need not be thread-safe.
 */
public interface ParameterStore {

    /** @return every parameter's name and shape, in a stable order */
    List<ParameterSpec> specs();

    /** @param name parameter name @return its current value */
    Tensor read(String name);

    /** @param name parameter name @param value new value, same shape */
    void write(String name, Tensor value);

    /**
     * Writes several parameters at once, e.g. a checkpoint's. The default writes them one by one in the store's
     * order; a backend where each write has a fixed cost (TensorFlow builds an executor per distinct set of fed
     * values) overrides it to write them in a few runs. The result is the same as {@link #write} for each.
     *
     * @param values new values by parameter name, each of its parameter's shape (names not in the store are refused)
     */
    default void writeAll(Map<String, Tensor> values) {
        for (String name : values.keySet()) {
            if (specs().stream().noneMatch(p -> p.name().equals(name))) {
                throw InvalidRequestException.of("parameter", "a parameter of the store", name);
            }
        }
        for (ParameterSpec p : specs()) {
            Tensor t = values.get(p.name());
            if (t != null) {
                write(p.name(), t);
            }
        }
    }

    /**
     * {@code this <- keep * this + (1 - keep) * source} for every parameter, computed per element in double and
     * rounded to float. IDA uses it with {@code keep = lambda} on the fake score (docs/algorithm.md §4.6); EMA with
     * {@code keep = decay}.
     *
     * @param source a store of the same architecture (names and shapes)
     * @param keep the weight of the current value, in [0, 1]
     */
    default void blendFrom(ParameterStore source, double keep) {
        requireSameArchitecture(this, source, "blendFrom");
        if (!(keep >= 0 && keep <= 1)) {
            throw InvalidRequestException.of("keep", "a weight in [0, 1]", keep);
        }
        for (ParameterSpec p : specs()) {
            float[] mine = read(p.name()).toArray();
            float[] theirs = source.read(p.name()).toArray();
            for (int i = 0; i < mine.length; i++) {
                mine[i] = (float) (keep * mine[i] + (1 - keep) * theirs[i]);
            }
            write(p.name(), Tensor.wrap(mine, p.shape()));
        }
    }

    /** @param source a store of the same architecture; every value is copied */
    default void copyFrom(ParameterStore source) {
        requireSameArchitecture(this, source, "copyFrom");
        for (ParameterSpec p : specs()) {
            write(p.name(), source.read(p.name()));
        }
    }

    /** @return all values by name, detached from the store */
    default Map<String, Tensor> snapshot() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (ParameterSpec p : specs()) {
            m.put(p.name(), read(p.name()));
        }
        return m;
    }

    /** @return the total number of parameters */
    default long parameterCount() {
        long n = 0;
        for (ParameterSpec p : specs()) {
            n += p.size();
        }
        return n;
    }

    /**
     * Fails unless both stores have the same parameter names and shapes.
     *
     * @param a one store
     * @param b the other
     * @param what the operation, for the message
     */
    static void requireSameArchitecture(ParameterStore a, ParameterStore b, String what) {
        List<ParameterSpec> sa = a.specs();
        List<ParameterSpec> sb = b.specs();
        if (!new java.util.HashSet<>(sa).equals(new java.util.HashSet<>(sb))) {
            List<ParameterSpec> onlyA = new ArrayList<>(sa);
            onlyA.removeAll(sb);
            List<ParameterSpec> onlyB = new ArrayList<>(sb);
            onlyB.removeAll(sa);
            throw new InvalidRequestException(what + ": the two modules must share architecture (same parameter names"
                    + " and shapes); only in the first: " + head(onlyA) + ", only in the second: " + head(onlyB));
        }
    }

    private static String head(List<ParameterSpec> l) {
        return l.size() <= 5 ? l.toString() : l.subList(0, 5) + " and " + (l.size() - 5) + " more";
    }
}
