package io.senseflow.onnx.checkpoint;

import io.senseflow.CheckpointException;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.FlowMatchingTrainer;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.ParameterStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * A checkpoint read back and verified by {@link CheckpointStore#load}: the {@link TrainingSnapshot} it holds, the
 * caller's extra files, and the manifest. The compatibility checks name the checkpoint folder and say what differs.
 *
 * <p>Safe to share between threads as long as nobody writes into the byte arrays of its extras (they are not copied).
 *
 * @param folder the checkpoint folder
 * @param manifest its manifest
 * @param snapshot the training state
 * @param extras the extra files by name (their bytes)
 */
public record Checkpoint(Path folder, CheckpointManifest manifest, TrainingSnapshot snapshot, Map<String, byte[]> extras) {
    public Checkpoint {
        Objects.requireNonNull(folder, "folder");
        extras = Map.copyOf(extras);
    }

    /** @return the iteration the run continues at */
    public long iteration() {
        return snapshot.iteration();
    }

    /**
     * Fails unless the checkpoint was written by a run with this config.
     *
     * @param configJson the resuming run's config JSON
     * @throws CheckpointException naming the folder and the fields that differ (compared as parsed JSON, so
     *     formatting does not matter)
     */
    public void requireConfig(String configJson) {
        List<String> diffs = configDifferences(snapshot.configJson(), configJson);
        if (!diffs.isEmpty()) {
            throw new CheckpointException(folder + ": the checkpoint was written by a run with another config; "
                    + diffs.size() + " field(s) differ (checkpoint vs this run): " + head(diffs, 8)
                    + ". Resume with the checkpoint's config (" + folder.resolve(CheckpointManifest.CONFIG_FILE) + ")");
        }
    }

    /**
     * Fails unless the checkpoint holds parameters for {@code module} with exactly the names and shapes of
     * {@code store}.
     *
     * @param module the module name in the checkpoint ({@code generator}, {@code fake_score}, ...)
     * @param store the parameters to restore into
     * @throws CheckpointException naming the folder, the module and the first differences
     */
    public void requireArchitecture(String module, ParameterStore store) {
        Map<String, Tensor> saved = snapshot.parameters().get(module);
        if (saved == null) {
            throw new CheckpointException(folder + ": no module '" + module + "' in the checkpoint; it has "
                    + new TreeSet<>(snapshot.parameters().keySet()));
        }
        List<String> problems = new ArrayList<>();
        for (ParameterSpec p : store.specs()) {
            Tensor t = saved.get(p.name());
            if (t == null) {
                problems.add("missing " + p);
            } else if (!Arrays.equals(t.shape(), p.shape())) {
                problems.add(p.name() + " has shape " + Arrays.toString(t.shape()) + ", expected "
                        + Arrays.toString(p.shape()));
            }
        }
        java.util.Set<String> expected = new java.util.HashSet<>();
        store.specs().forEach(p -> expected.add(p.name()));
        for (String name : new TreeSet<>(saved.keySet())) {
            if (!expected.contains(name)) {
                problems.add("unexpected " + name + Arrays.toString(saved.get(name).shape()));
            }
        }
        if (!problems.isEmpty()) {
            throw new CheckpointException(folder + ": module '" + module + "' is a checkpoint of another architecture ("
                    + problems.size() + " difference(s)): " + head(problems, 6));
        }
    }

    /**
     * Checks the config, then restores the distiller (which checks every module's names and shapes).
     *
     * @param distiller a distiller built with the same config and architectures
     * @throws CheckpointException naming the folder and what differs
     */
    public void restore(Distiller distiller) {
        requireConfig(distiller.config().toJson());
        try {
            distiller.restore(snapshot);
        } catch (CheckpointException e) {
            throw new CheckpointException(folder + ": " + e.getMessage(), e);
        }
    }

    /**
     * Checks the config, then restores the trainer (which checks the model's names and shapes).
     *
     * @param trainer a trainer built with the same config and architecture
     * @throws CheckpointException naming the folder and what differs
     */
    public void restore(FlowMatchingTrainer trainer) {
        requireConfig(trainer.config().toJson());
        try {
            trainer.restore(snapshot);
        } catch (CheckpointException e) {
            throw new CheckpointException(folder + ": " + e.getMessage(), e);
        }
    }

    private static String head(List<String> l, int n) {
        return l.size() <= n ? String.join("; ", l) : String.join("; ", l.subList(0, n)) + "; and " + (l.size() - n)
                + " more";
    }

    /**
     * The leaf paths at which two JSON documents differ.
     *
     * @param a one document
     * @param b the other
     * @return {@code path: a vs b} entries, empty when equal
     */
    static List<String> configDifferences(String a, String b) {
        Object pa;
        Object pb;
        try {
            pa = Json.parse(a);
            pb = Json.parse(b);
        } catch (JsonException e) {
            return a.equals(b) ? List.of() : List.of("(config is not JSON: " + e.getMessage() + ")");
        }
        List<String> out = new ArrayList<>();
        diff("", pa, pb, out);
        return out;
    }

    private static void diff(String path, Object a, Object b, List<String> out) {
        if (a instanceof Map<?, ?> ma && b instanceof Map<?, ?> mb) {
            TreeSet<String> keys = new TreeSet<>();
            ma.keySet().forEach(k -> keys.add((String) k));
            mb.keySet().forEach(k -> keys.add((String) k));
            for (String k : keys) {
                String p = path.isEmpty() ? k : path + "." + k;
                if (!ma.containsKey(k)) {
                    out.add(p + ": absent vs " + Json.write(mb.get(k)));
                } else if (!mb.containsKey(k)) {
                    out.add(p + ": " + Json.write(ma.get(k)) + " vs absent");
                } else {
                    diff(p, ma.get(k), mb.get(k), out);
                }
            }
        } else if (!Objects.equals(a, b)) {
            out.add((path.isEmpty() ? "(root)" : path) + ": " + Json.write(a) + " vs " + Json.write(b));
        }
    }
}
