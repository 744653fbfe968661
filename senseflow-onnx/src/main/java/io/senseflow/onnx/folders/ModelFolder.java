package io.senseflow.onnx.folders;

import io.senseflow.ModelLoadException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** A model folder on disk: its {@code model_index.json}, component folders and their JSON configs. */
final class ModelFolder {
    static final String INDEX = "model_index.json";
    static final String MODEL_FILE = "model.onnx";
    static final String WEIGHTS_FILE = "weights.safetensors";

    private final Path dir;
    private final JsonObject index;

    private ModelFolder(Path dir, JsonObject index) {
        this.dir = dir;
        this.index = index;
    }

    /**
     * @param dir the folder
     * @return the folder with its index read (an absent {@code model_index.json} reads as empty)
     * @throws ModelLoadException if the folder is missing or the index is not a JSON object
     */
    static ModelFolder open(Path dir) {
        if (dir == null) {
            throw new ModelLoadException("model folder: expected a path, got null");
        }
        Path abs = dir.toAbsolutePath().normalize();
        if (!Files.exists(abs)) {
            throw new ModelLoadException("model folder " + abs + " does not exist");
        }
        if (!Files.isDirectory(abs)) {
            throw new ModelLoadException(abs + " is not a folder; expected a model folder with " + INDEX
                    + " and one folder per component (transformer/, text_encoder/, vae_decoder/, ...)");
        }
        Path indexFile = abs.resolve(INDEX);
        JsonObject index = Files.isRegularFile(indexFile) ? readJson(indexFile, INDEX) : JsonObject.of(java.util.Map.of());
        return new ModelFolder(abs, index);
    }

    Path dir() {
        return dir;
    }

    String name() {
        Path n = dir.getFileName();
        return n == null ? dir.toString() : n.toString();
    }

    JsonObject index() {
        return index;
    }

    boolean hasIndex() {
        return Files.isRegularFile(dir.resolve(INDEX));
    }

    /** @return whether {@code component/model.onnx} exists */
    boolean hasModel(String component) {
        return Files.isRegularFile(dir.resolve(component).resolve(MODEL_FILE));
    }

    boolean hasFolder(String component) {
        return Files.isDirectory(dir.resolve(component));
    }

    /**
     * @param component the component folder
     * @param role what the component is, for the message ("the T5 text encoder")
     * @return {@code component/model.onnx}
     * @throws ModelLoadException naming the file when it is missing
     */
    Path requireModel(String component, String role) {
        Path p = dir.resolve(component).resolve(MODEL_FILE);
        if (!Files.isRegularFile(p)) {
            throw new ModelLoadException(component + "/" + MODEL_FILE + " is missing in " + dir + "; " + role
                    + " is expected there (export the model with Optimum, see docs/models.md)");
        }
        return p;
    }

    /**
     * @param component the tokenizer folder
     * @return its {@code tokenizer.json}
     * @throws ModelLoadException naming the folder when it has neither {@code tokenizer.json} nor both slow-tokenizer
     *     files
     */
    Path requireTokenizer(String component) {
        Path folder = dir.resolve(component);
        Path json = folder.resolve("tokenizer.json");
        if (Files.isRegularFile(json)) {
            return json;
        }
        boolean vocab = Files.isRegularFile(folder.resolve("vocab.json"));
        boolean merges = Files.isRegularFile(folder.resolve("merges.txt"));
        String found = !Files.isDirectory(folder) ? "the folder does not exist"
                : vocab ? "it has vocab.json but no merges.txt" : merges ? "it has merges.txt but no vocab.json"
                : "it has neither";
        throw new ModelLoadException("tokenizer folder " + folder + ": expected tokenizer.json, or vocab.json and "
                + "merges.txt (a CLIP tokenizer as Optimum writes it); " + found);
    }

    /**
     * @param component the tokenizer folder
     * @return the folder when it has no {@code tokenizer.json} but CLIP's slow files {@code vocab.json} and
     *     {@code merges.txt} ({@code tokenizer.json} is preferred when present)
     */
    Optional<Path> slowTokenizer(String component) {
        Path folder = dir.resolve(component);
        if (Files.isRegularFile(folder.resolve("tokenizer.json"))) {
            return Optional.empty();
        }
        boolean slow = Files.isRegularFile(folder.resolve("vocab.json")) && Files.isRegularFile(folder.resolve("merges.txt"));
        return slow ? Optional.of(folder) : Optional.empty();
    }

    /** @return the JSON config at {@code relative}, if the file exists */
    Optional<JsonObject> json(String relative) {
        Path p = dir.resolve(relative);
        return Files.isRegularFile(p) ? Optional.of(readJson(p, relative)) : Optional.empty();
    }

    /** @return the component's {@code weights.safetensors}, if present */
    Optional<Path> componentWeights(String component) {
        Path p = dir.resolve(component).resolve(WEIGHTS_FILE);
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }

    static JsonObject readJson(Path file, String display) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelLoadException(display + ": cannot read " + file + ": " + e, e);
        }
        try {
            return Json.parseObject(Json.decodeUtf8(ByteBuffer.wrap(bytes)));
        } catch (JsonException e) {
            throw new ModelLoadException(display + " is not valid JSON (" + file + "): " + e.getMessage(), e);
        }
    }

    /** A number that may be absent or null (diffusers writes {@code "shift_factor": null}). */
    static Optional<Double> number(JsonObject o, String key, String display) {
        if (!o.has(key) || o.raw(key) == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(o.getDouble(key));
        } catch (JsonException e) {
            throw new ModelLoadException(display + ": " + e.getMessage(), e);
        }
    }

    static Optional<Boolean> bool(JsonObject o, String key, String display) {
        if (!o.has(key) || o.raw(key) == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(o.getBoolean(key));
        } catch (JsonException e) {
            throw new ModelLoadException(display + ": " + e.getMessage(), e);
        }
    }

    static Optional<String> string(JsonObject o, String key, String display) {
        if (!o.has(key) || o.raw(key) == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(o.getString(key));
        } catch (JsonException e) {
            throw new ModelLoadException(display + ": " + e.getMessage(), e);
        }
    }

    static Optional<Integer> integer(JsonObject o, String key, String display) {
        if (!o.has(key) || o.raw(key) == null) {
            return Optional.empty();
        }
        try {
            return Optional.of(o.getInt(key));
        } catch (JsonException e) {
            throw new ModelLoadException(display + ": " + e.getMessage(), e);
        }
    }

    /** @return how many times the VAE halves the resolution: 2^(len(block_out_channels) - 1), or 8 */
    static int vaeFactor(Optional<JsonObject> vaeConfig, String display) {
        if (vaeConfig.isEmpty() || !vaeConfig.get().has("block_out_channels")) {
            return 8;
        }
        try {
            int levels = vaeConfig.get().getArray("block_out_channels").size();
            if (levels < 1 || levels > 8) {
                throw new ModelLoadException(display + ": block_out_channels: expected 1 to 8 levels, got " + levels);
            }
            return 1 << (levels - 1);
        } catch (JsonException e) {
            throw new ModelLoadException(display + ": " + e.getMessage(), e);
        }
    }
}
