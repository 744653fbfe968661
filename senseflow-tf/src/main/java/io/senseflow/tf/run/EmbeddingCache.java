package io.senseflow.tf.run;

import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import io.senseflow.io.AtomicFiles;
import io.senseflow.model.Conditioning;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A run folder's cache of the prompt embeddings: {@code embeddings/prompts.safetensors} (every prompt's conditioning
 * and every distinct negative prompt's, as the teacher's encoders returned them, float32) and
 * {@code embeddings/manifest.json}, which names what they were computed from (the prompt file's SHA-256, the teacher
 * fingerprint, the T5 length) and the SHA-256 of the tensor file. Both files are written atomically, the tensors
 * first, so a manifest always describes a complete tensor file.
 *
 * <p>{@link #read} accepts the cache only when everything matches; otherwise it says why and the run encodes the
 * prompts again and rewrites the cache ("rebuilt"). Encoding is deterministic, so a rebuilt cache holds the same bits.
 *
 * <p>Stateless: safe to share between threads (two runs must not share a folder).
 */
final class EmbeddingCache {
    /** The cache's folder inside the run folder. */
    static final String DIR = "embeddings";
    static final String MANIFEST = "manifest.json";
    static final String TENSORS = "prompts.safetensors";
    static final String FORMAT = "senseflow-prompt-embeddings";

    /** What the embeddings depend on: a cache is used only for the same key. */
    record Key(String promptsSha256, String teacherFingerprint, String t5Length) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("prompts_sha256", promptsSha256);
            m.put("teacher_fingerprint", teacherFingerprint);
            m.put("t5_sequence_length", t5Length);
            return m;
        }
    }

    /**
     * The encoders' outputs (before any per-run additions such as SDXL's time ids).
     *
     * @param prompts one conditioning (batch 1) per prompt, in file order
     * @param negatives the distinct negative prompts, in first-use order
     * @param negativeEmbeddings one conditioning (batch 1) per distinct negative prompt
     */
    record Embeddings(List<Conditioning> prompts, List<String> negatives, List<Conditioning> negativeEmbeddings) {
        Embeddings {
            prompts = List.copyOf(prompts);
            negatives = List.copyOf(negatives);
            negativeEmbeddings = List.copyOf(negativeEmbeddings);
        }
    }

    /** The outcome of {@link #read}: the embeddings, or why the cache was not used. */
    record Lookup(Embeddings embeddings, String rejected) {
    }

    private EmbeddingCache() {
    }

    static Path manifest(Path runFolder) {
        return runFolder.resolve(DIR).resolve(MANIFEST);
    }

    /**
     * @param runFolder the run folder
     * @param key what the embeddings must have been computed from
     * @param promptCount the prompt file's prompts
     * @return the cached embeddings, or the reason there are none usable ({@code "none"} when there is no cache)
     */
    static Lookup read(Path runFolder, Key key, int promptCount) {
        Path manifest = manifest(runFolder);
        if (!Files.isRegularFile(manifest)) {
            return new Lookup(null, "none");
        }
        JsonObject m;
        try {
            m = Json.parseObject(Files.readString(manifest));
        } catch (IOException | RuntimeException e) {
            return new Lookup(null, manifest + " is not a readable manifest (" + e.getMessage() + ")");
        }
        if (!FORMAT.equals(m.getString("format", ""))) {
            return new Lookup(null, manifest + " format is " + m.getString("format", "none") + ", not " + FORMAT);
        }
        for (Map.Entry<String, Object> e : key.toMap().entrySet()) {
            String found = m.getString(e.getKey(), "none");
            if (!found.equals(e.getValue())) {
                return new Lookup(null, manifest + " " + e.getKey() + " is " + found + ", this run's is "
                        + e.getValue());
            }
        }
        if (m.getLong("prompt_count", -1) != promptCount) {
            return new Lookup(null, manifest + " prompt_count is " + m.getLong("prompt_count", -1) + ", the prompt"
                    + " file has " + promptCount);
        }
        Path tensors = runFolder.resolve(DIR).resolve(TENSORS);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(tensors);
        } catch (IOException e) {
            return new Lookup(null, tensors + " cannot be read (" + e + ")");
        }
        String sha = PromptFile.sha256(bytes);
        if (!sha.equals(m.getString("tensors_sha256", ""))) {
            return new Lookup(null, tensors + " has SHA-256 " + sha + ", the manifest records "
                    + m.getString("tensors_sha256", "none") + " (changed or corrupted)");
        }
        try (SafetensorsFile f = SafetensorsFile.open(tensors)) {
            List<Conditioning> prompts = new ArrayList<>();
            for (int i = 0; i < promptCount; i++) {
                prompts.add(conditioning(f, "p" + i));
            }
            List<String> negatives = m.getStringList("negatives");
            List<Conditioning> neg = new ArrayList<>();
            for (int j = 0; j < negatives.size(); j++) {
                neg.add(conditioning(f, "n" + j));
            }
            return new Lookup(new Embeddings(prompts, negatives, neg), null);
        } catch (RuntimeException e) {
            return new Lookup(null, tensors + " does not hold the manifest's embeddings (" + e.getMessage() + ")");
        }
    }

    /**
     * Writes the cache (tensors, then manifest; each atomically).
     *
     * @param runFolder the run folder (exists)
     * @param key what the embeddings were computed from
     * @param e the embeddings
     */
    static void write(Path runFolder, Key key, Embeddings e) {
        SafetensorsWriter w = new SafetensorsWriter();
        for (int i = 0; i < e.prompts().size(); i++) {
            add(w, "p" + i, e.prompts().get(i));
        }
        for (int j = 0; j < e.negativeEmbeddings().size(); j++) {
            add(w, "n" + j, e.negativeEmbeddings().get(j));
        }
        byte[] bytes = w.toByteArray();
        Path dir = runFolder.resolve(DIR);
        try {
            Files.createDirectories(dir);
        } catch (IOException ex) {
            throw new java.io.UncheckedIOException("creating " + dir, ex);
        }
        AtomicFiles.write(dir.resolve(TENSORS), bytes);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("format", FORMAT);
        m.put("version", 1L);
        m.putAll(key.toMap());
        m.put("prompt_count", (long) e.prompts().size());
        m.put("negatives", new ArrayList<Object>(e.negatives()));
        m.put("tensors", TENSORS);
        m.put("tensors_sha256", PromptFile.sha256(bytes));
        AtomicFiles.write(dir.resolve(MANIFEST), (Json.writePretty(m) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static void add(SafetensorsWriter w, String prefix, Conditioning c) {
        w.add(prefix + ".tokens", c.tokens());
        if (c.pooled() != null) {
            w.add(prefix + ".pooled", c.pooled());
        }
        if (c.mask() != null) {
            w.add(prefix + ".mask", c.mask());
        }
        c.extras().forEach((k, v) -> w.add(prefix + ".extra." + k, v));
    }

    private static Conditioning conditioning(SafetensorsFile f, String prefix) {
        Tensor tokens = f.tensor(Objects.requireNonNull(prefix) + ".tokens");
        Tensor pooled = f.contains(prefix + ".pooled") ? f.tensor(prefix + ".pooled") : null;
        Tensor mask = f.contains(prefix + ".mask") ? f.tensor(prefix + ".mask") : null;
        Map<String, Tensor> extras = new LinkedHashMap<>();
        String x = prefix + ".extra.";
        for (String n : f.names()) {
            if (n.startsWith(x)) {
                extras.put(n.substring(x.length()), f.tensor(n));
            }
        }
        return new Conditioning(tokens, pooled, mask, extras);
    }
}
