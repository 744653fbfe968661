package io.senseflow.examples.report;

import io.senseflow.ModelLoadException;
import io.senseflow.SenseFlowException;
import io.senseflow.eval.FeatureStatistics;
import io.senseflow.examples.shapes.eval.Adherence;
import io.senseflow.io.AtomicFiles;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Rows of a {@link ModelComparison} that were measured before: a fixed model (identified by a fingerprint of its
 * files) evaluated by a fixed judge with fixed settings always gives the same row, because sampling is deterministic.
 * The teacher's rows are by far the most expensive part of a comparison (50 guided steps are 100 network evaluations
 * per image, against 4 for the student), so the bundled teacher ships its rows for the default settings and
 * {@code quickstart} and {@code ablation} reuse them; a row is only reused when its {@linkplain #key key} matches,
 * i.e. the same model files, judge, sampler, counts, seed and chunking.
 *
 * <p>A cached row keeps the wall time per image of the run that measured it; reports mark such rows. Not thread-safe.
 */
public final class ComparisonCache {
    /** Format tag of the JSON form. */
    static final String FORMAT = "senseflow-comparison-cache/1";

    /** A measured row, with the feature statistics of its seen-prompt images (needed when it is the FD-T reference). */
    public record Cached(ModelComparison.Row row, FeatureStatistics features) {
    }

    private final Map<String, Cached> entries = new LinkedHashMap<>();

    /** @return an empty cache */
    public static ComparisonCache empty() {
        return new ComparisonCache();
    }

    /**
     * The key of one row.
     *
     * @param modelFingerprint identifies the model's files (e.g. the SHA-256 of a teacher folder)
     * @param judgeFingerprint identifies the judge (e.g. the SHA-256 of the classifier's graph)
     * @param entry the sampler (name, steps, guidance and NFE count)
     * @param seenCount images for seen prompts
     * @param heldOutCount images for held-out prompts
     * @param seed prompts and noise seed
     * @param chunk prompts per pipeline call
     * @param role the row's role: empty, or {@code reference} / {@code reference+self} for the FD-T reference
     *     (without or with its own FD-T against a second draw)
     * @return a hex SHA-256 over all of them
     */
    public static String key(String modelFingerprint, String judgeFingerprint, ModelComparison.Entry entry,
                             int seenCount, int heldOutCount, long seed, int chunk, String role) {
        String text = String.join("\n", modelFingerprint, judgeFingerprint, entry.name(),
                Integer.toString(entry.steps()), String.valueOf(entry.guidance()), Integer.toString(entry.nfe()),
                Integer.toString(seenCount), Integer.toString(heldOutCount), Long.toString(seed),
                Integer.toString(chunk), role);
        return sha256(text.getBytes(StandardCharsets.UTF_8));
    }

    /** @param bytes any bytes @return their hex SHA-256 */
    public static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required of every JVM", e);
        }
    }

    /** @param key a {@link #key} @return the row measured under it */
    public Optional<Cached> get(String key) {
        return Optional.ofNullable(entries.get(key));
    }

    /**
     * @param key a {@link #key}
     * @param row the measured row
     * @param features the statistics of its seen-prompt images
     */
    public void put(String key, ModelComparison.Row row, FeatureStatistics features) {
        entries.put(key, new Cached(row, features));
    }

    /** @param other rows to add (they replace rows under the same key) */
    public void putAll(ComparisonCache other) {
        entries.putAll(other.entries);
    }

    /** @return the number of rows */
    public int size() {
        return entries.size();
    }

    /** @return the JSON form */
    public String toJson() {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("format", FORMAT);
        Map<String, Object> rows = new LinkedHashMap<>();
        for (Map.Entry<String, Cached> e : entries.entrySet()) {
            Map<String, Object> m = new LinkedHashMap<>(e.getValue().row().toMap());
            FeatureStatistics f = e.getValue().features();
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("count", (long) f.count());
            s.put("mean", list(f.mean()));
            List<Object> cov = new ArrayList<>();
            for (double[] r : f.covariance()) {
                cov.add(list(r));
            }
            s.put("covariance", cov);
            m.put("features", s);
            rows.put(e.getKey(), m);
        }
        root.put("rows", rows);
        return Json.write(JsonValues.finite(root));
    }

    /** @param file where to write it, atomically */
    public void write(java.nio.file.Path file) {
        AtomicFiles.write(file, toJson().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * @param json the JSON form
     * @param where the file or resource it came from, for errors
     * @return the cache
     * @throws ModelLoadException naming {@code where} when the text is not a comparison cache
     */
    public static ComparisonCache parse(String json, String where) {
        ComparisonCache c = new ComparisonCache();
        try {
            JsonObject root = Json.parseObject(json);
            root.requireOnly(Set.of("format", "rows"));
            if (!FORMAT.equals(root.getString("format"))) {
                throw new ModelLoadException(where + ": format is '" + root.getString("format") + "', expected '"
                        + FORMAT + "'");
            }
            JsonObject rows = root.getObject("rows");
            for (String key : rows.keys()) {
                JsonObject r = rows.getObject(key);
                JsonObject f = r.getObject("features");
                double[] mean = f.getDoubleArray("mean");
                List<Object> covRows = f.getArray("covariance");
                double[][] cov = new double[covRows.size()][];
                for (int i = 0; i < cov.length; i++) {
                    cov[i] = JsonObject.of(Map.of("row", covRows.get(i))).getDoubleArray("row");
                    if (cov[i].length != mean.length) {
                        throw new ModelLoadException(where + ": rows." + key + ".features.covariance[" + i + "] has "
                                + cov[i].length + " values, expected " + mean.length);
                    }
                }
                if (cov.length != mean.length) {
                    throw new ModelLoadException(where + ": rows." + key + ".features.covariance has " + cov.length
                            + " rows, expected " + mean.length);
                }
                ModelComparison.Row row = new ModelComparison.Row(r.getString("name"), r.getInt("steps"),
                        r.getInt("nfe"), adherence(r.getObject("adherence_seen")),
                        adherence(r.getObject("adherence_held_out")), r.getDouble("fd_data"),
                        r.has("fd_teacher") && r.raw("fd_teacher") != null ? r.getDouble("fd_teacher") : Double.NaN,
                        r.getDouble("seconds_per_image"), true);
                c.entries.put(key, new Cached(row, new FeatureStatistics(f.getInt("count"), mean, cov)));
            }
        } catch (ModelLoadException e) {
            throw e;
        } catch (SenseFlowException e) {
            throw new ModelLoadException(where + ": not a comparison cache: " + e.getMessage(), e);
        }
        return c;
    }

    private static Adherence adherence(JsonObject m) {
        long count = m.getLong("count");
        long[] correct = new long[Adherence.ATTRIBUTES.size()];
        for (int k = 0; k < correct.length; k++) {
            correct[k] = count == 0 ? 0 : Math.round(m.getDouble(Adherence.ATTRIBUTES.get(k)) * count);
        }
        long all = count == 0 ? 0 : Math.round(m.getDouble("all") * count);
        return Adherence.ofCounts(count, all, correct);
    }

    private static List<Object> list(double[] values) {
        List<Object> l = new ArrayList<>(values.length);
        for (double v : values) {
            l.add(v);
        }
        return l;
    }
}
