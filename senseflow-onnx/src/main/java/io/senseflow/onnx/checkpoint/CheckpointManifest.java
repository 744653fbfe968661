package io.senseflow.onnx.checkpoint;

import io.senseflow.CheckpointException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import io.senseflow.train.ParameterSpec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The {@code manifest.json} of a checkpoint folder: what the folder holds and how to verify it. Every file of the
 * checkpoint is listed with its size and SHA-256; every module with its parameter file, its parameter count and an
 * architecture fingerprint (a SHA-256 over its sorted parameter names and shapes), and its optimizer file and step
 * if it has one. Written last into the temporary folder, so a folder with a manifest is complete.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param version the format version ({@link #VERSION})
 * @param iteration the next iteration to run
 * @param skippedBatches batches skipped so far
 * @param modules per module, sorted by name
 * @param files every file with its size and checksum, by relative path
 * @param extras relative paths of the caller's extra files (also in {@code files})
 * @param metadata free-form provenance given by the caller
 */
public record CheckpointManifest(long version, long iteration, int skippedBatches, Map<String, ModuleEntry> modules,
                                 Map<String, FileEntry> files, List<String> extras, Map<String, String> metadata) {
    /** The value of the {@code format} field. */
    public static final String FORMAT = "senseflow-checkpoint";
    /** The format version this SDK writes and reads. */
    public static final long VERSION = 1;
    /** The manifest's file name. */
    public static final String FILE_NAME = "manifest.json";
    /** The file holding the run's config JSON. */
    public static final String CONFIG_FILE = "config.json";

    public CheckpointManifest {
        modules = Map.copyOf(modules);
        files = Map.copyOf(files);
        extras = List.copyOf(extras);
        metadata = Map.copyOf(metadata);
    }

    /**
     * One module of the checkpoint.
     *
     * @param parameters the parameter file (safetensors, original parameter names)
     * @param parameterCount elements over all parameters
     * @param architecture the fingerprint of the parameter names and shapes ({@link #fingerprint})
     * @param optimizer the optimizer file (safetensors, slots such as {@code m/<name>}), or null for a module without
     *     optimizer state (an EMA copy)
     * @param optimizerStep the optimizer's step counter (0 without optimizer)
     */
    public record ModuleEntry(String parameters, long parameterCount, String architecture, String optimizer,
                              long optimizerStep) {
    }

    /**
     * @param bytes the file's size
     * @param sha256 its SHA-256, lower-case hex
     */
    public record FileEntry(long bytes, String sha256) {
    }

    /**
     * A fingerprint of an architecture: the SHA-256 of {@code name[shape]} lines in sorted name order.
     *
     * @param specs parameter names and shapes, any order
     * @return lower-case hex
     */
    public static String fingerprint(List<ParameterSpec> specs) {
        TreeMap<String, String> sorted = new TreeMap<>();
        for (ParameterSpec p : specs) {
            sorted.put(p.name(), Arrays.toString(p.shape()));
        }
        MessageDigest d = sha256();
        sorted.forEach((k, v) -> d.update((k + v + "\n").getBytes(StandardCharsets.UTF_8)));
        return HexFormat.of().formatHex(d.digest());
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
    }

    /** @return the JSON form, deterministic (sorted keys where order is free) */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("version", version);
        m.put("iteration", iteration);
        m.put("skipped_batches", (long) skippedBatches);
        m.put("config", CONFIG_FILE);
        Map<String, Object> mods = new LinkedHashMap<>();
        new TreeMap<>(modules).forEach((name, e) -> {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("parameters", e.parameters());
            o.put("parameter_count", e.parameterCount());
            o.put("architecture", e.architecture());
            o.put("optimizer", e.optimizer());
            o.put("optimizer_step", e.optimizerStep());
            mods.put(name, o);
        });
        m.put("modules", mods);
        Map<String, Object> fs = new LinkedHashMap<>();
        new TreeMap<>(files).forEach((name, e) -> {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("bytes", e.bytes());
            o.put("sha256", e.sha256());
            fs.put(name, o);
        });
        m.put("files", fs);
        m.put("extras", new ArrayList<Object>(extras));
        m.put("metadata", new LinkedHashMap<String, Object>(new TreeMap<>(metadata)));
        return Json.writePretty(m);
    }

    /**
     * Parses and checks a manifest.
     *
     * @param json the text
     * @param source the manifest's path, for messages
     * @return the manifest
     * @throws CheckpointException naming the file and field if it is malformed, of another format or of a newer
     *     version
     */
    public static CheckpointManifest fromJson(String json, String source) {
        try {
            JsonObject o = Json.parseObject(json);
            String format = o.getString("format");
            if (!format.equals(FORMAT)) {
                throw new CheckpointException(source + ": format: expected \"" + FORMAT + "\", got \"" + format + "\"");
            }
            long version = o.getLong("version");
            if (version != VERSION) {
                throw new CheckpointException(source + ": version: this SDK reads version " + VERSION + ", got " + version
                        + (version > VERSION ? " (written by a newer SDK)" : ""));
            }
            o.requireOnly(Set.of("format", "version", "iteration", "skipped_batches", "config", "modules", "files",
                    "extras", "metadata"));
            if (!o.getString("config").equals(CONFIG_FILE)) {
                throw new CheckpointException(source + ": config: expected \"" + CONFIG_FILE + "\", got \""
                        + o.getString("config") + "\"");
            }
            Map<String, ModuleEntry> modules = new LinkedHashMap<>();
            JsonObject mods = o.getObject("modules");
            for (String name : mods.keys()) {
                JsonObject e = mods.getObject(name);
                e.requireOnly(Set.of("parameters", "parameter_count", "architecture", "optimizer", "optimizer_step"));
                String opt = e.raw("optimizer") == null ? null : e.getString("optimizer");
                modules.put(name, new ModuleEntry(e.getString("parameters"), e.getLong("parameter_count"),
                        e.getString("architecture"), opt, e.getLong("optimizer_step")));
            }
            Map<String, FileEntry> files = new LinkedHashMap<>();
            JsonObject fs = o.getObject("files");
            for (String name : fs.keys()) {
                JsonObject e = fs.getObject(name);
                e.requireOnly(Set.of("bytes", "sha256"));
                files.put(name, new FileEntry(e.getLong("bytes"), e.getString("sha256")));
            }
            Map<String, String> meta = new LinkedHashMap<>();
            JsonObject mo = o.getObject("metadata");
            for (String k : mo.keys()) {
                meta.put(k, mo.getString(k));
            }
            long skipped = o.getLong("skipped_batches");
            if (skipped < 0 || skipped > Integer.MAX_VALUE || o.getLong("iteration") < 0) {
                throw new CheckpointException(source + ": iteration and skipped_batches must be non-negative");
            }
            return new CheckpointManifest(version, o.getLong("iteration"), (int) skipped, modules, files,
                    o.getStringList("extras"), meta);
        } catch (JsonException e) {
            throw new CheckpointException(source + ": " + e.getMessage(), e);
        }
    }
}
