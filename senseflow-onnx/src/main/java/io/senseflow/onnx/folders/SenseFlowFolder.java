package io.senseflow.onnx.folders;

import io.senseflow.CheckpointException;
import io.senseflow.InvalidRequestException;
import io.senseflow.io.FileTrees;
import io.senseflow.json.Json;
import io.senseflow.onnx.arch.ArchitectureMetadata;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.WriteOptions;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * Writes an in-house model in the SDK's own folder layout, which {@link Models#load} reads back:
 *
 * <pre>
 * model_index.json        family "senseflow", format_version, scheduler, guidance, defaults, provenance
 * tokenizer/              tokenizer.json (+ tokenizer_config.json with the pad token)
 * text_encoder/           model.onnx [+ model.onnx_data] [+ weights.safetensors]
 * transformer/            model.onnx [+ model.onnx_data] [+ weights.safetensors]
 * vae_decoder/            model.onnx [+ ...]
 * vae_encoder/            model.onnx [+ ...]   (optional)
 * </pre>
 *
 * The graphs are those of {@code io.senseflow.onnx.arch} (their configurations travel in their metadata); a
 * component's {@code weights.safetensors}, when given, replaces its initializers of the same names when loaded (ONNX
 * Runtime external initializers), so a distilled student ships as the architecture's graph plus its trained weights.
 *
 * <p>The components are checked against each other before anything is written ({@link InvalidRequestException} naming
 * the component). Writing is atomic at the folder level: everything goes into a temporary sibling folder that is
 * renamed into place at the end; an existing SenseFlow folder at the destination is replaced only then, and a
 * destination that exists but is not a SenseFlow folder is refused.
 *
 * <p>Safe to share between threads once built, as long as its Builder is no longer changed (it keeps a reference to
 * it).
 */
public final class SenseFlowFolder {
    private final Builder b;

    private SenseFlowFolder(Builder b) {
        this.b = b;
    }

    /** @return a builder */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Writes the folder.
     *
     * @param dir the destination; created, or replaced when it already holds a SenseFlow folder
     * @return {@code dir}
     * @throws CheckpointException if writing fails (the destination is then unchanged)
     * @throws InvalidRequestException if the destination holds something other than a SenseFlow folder
     */
    public Path write(Path dir) {
        Path target = Objects.requireNonNull(dir, "dir").toAbsolutePath().normalize();
        Path parent = target.getParent();
        if (parent == null) {
            throw InvalidRequestException.of("dir", "a folder below some parent", target);
        }
        if (Files.exists(target) && !replaceable(target)) {
            throw InvalidRequestException.of("dir", "a new folder or an existing SenseFlow model folder",
                    target + " (it exists and has no model_index.json naming family senseflow; not overwritten)");
        }
        String tag = UUID.randomUUID().toString().substring(0, 8);
        Path temp = parent.resolve("." + target.getFileName() + ".partial-" + tag);
        Path old = parent.resolve("." + target.getFileName() + ".old-" + tag);
        try {
            Files.createDirectories(parent);
            Files.createDirectory(temp);
            writeInto(temp);
            if (Files.exists(target)) {
                move(target, old);
            }
            move(temp, target);
            FileTrees.delete(old);
            return target;
        } catch (IOException | RuntimeException e) {
            try {
                if (!Files.exists(target) && Files.exists(old)) {
                    move(old, target);
                }
                FileTrees.delete(temp);
            } catch (IOException | RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            if (e instanceof InvalidRequestException bad) {
                throw bad;
            }
            throw new CheckpointException("could not write the SenseFlow model folder " + target + ": " + e, e);
        }
    }

    private void writeInto(Path dir) throws IOException {
        WriteOptions options = WriteOptions.externalData(b.externalDataThreshold);
        writeModel(dir, "transformer", b.transformer, options);
        writeModel(dir, "text_encoder", b.textEncoder, options);
        writeModel(dir, "vae_decoder", b.vaeDecoder, options);
        if (b.vaeEncoder != null) {
            writeModel(dir, "vae_encoder", b.vaeEncoder, options);
        }
        for (Map.Entry<String, Path> w : b.weights.entrySet()) {
            // opening validates the header, so a broken file fails here and not at load time
            try (SafetensorsFile check = SafetensorsFile.open(w.getValue())) {
                check.names();
            }
            Files.copy(w.getValue(), dir.resolve(w.getKey()).resolve(ModelFolder.WEIGHTS_FILE));
        }
        Path tok = Files.createDirectories(dir.resolve("tokenizer"));
        Files.writeString(tok.resolve("tokenizer.json"), b.tokenizerJson, StandardCharsets.UTF_8);
        Map<String, Object> tokConfig = new LinkedHashMap<>();
        tokConfig.put("pad_token", b.padToken);
        tokConfig.put("model_max_length", (long) TextTransformer.Config.fromMetadata(b.textEncoder.metadata(), "text_encoder").length());
        Files.writeString(tok.resolve("tokenizer_config.json"), Json.writePretty(tokConfig), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve(ModelFolder.INDEX), Json.writePretty(index()), StandardCharsets.UTF_8);
    }

    private static void writeModel(Path dir, String component, OnnxModel model, WriteOptions options) {
        model.write(dir.resolve(component).resolve(ModelFolder.MODEL_FILE), options);
    }

    Map<String, Object> index() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("_class_name", SenseFlowLayout.CLASS_NAME);
        m.put("family", ModelFamily.SENSEFLOW.id());
        m.put("format_version", (long) SenseFlowLayout.FORMAT_VERSION);
        m.put("name", b.name);
        m.put("senseflow_checkpoint", b.scheduler.isFewStep());
        m.put("tokenizer", List.of("senseflow", "tokenizer.json"));
        m.put("text_encoder", List.of("senseflow", TextTransformer.ARCHITECTURE));
        m.put("transformer", List.of("senseflow", FlowTransformer.ARCHITECTURE));
        m.put("vae_decoder", List.of("senseflow", Autoencoder.ARCHITECTURE));
        if (b.vaeEncoder != null) {
            m.put("vae_encoder", List.of("senseflow", Autoencoder.ARCHITECTURE));
        }
        m.put("scheduler", b.scheduler.toJson());
        m.put("guidance", b.guidance.name().toLowerCase(Locale.ROOT));
        if (b.defaults != null) {
            Map<String, Object> d = new LinkedHashMap<>();
            d.put("steps", (long) b.defaults.steps());
            d.put("guidance_scale", b.defaults.guidanceScale());
            d.put("width", (long) b.defaults.width());
            d.put("height", (long) b.defaults.height());
            m.put("defaults", d);
        }
        if (!b.provenance.isEmpty()) {
            m.put("provenance", new TreeMap<>(b.provenance));
        }
        return m;
    }

    private static boolean replaceable(Path target) {
        if (!Files.isDirectory(target)) {
            return false;
        }
        try (Stream<Path> s = Files.list(target)) {
            if (s.findAny().isEmpty()) {
                return true;
            }
        } catch (IOException e) {
            return false;
        }
        Path index = target.resolve(ModelFolder.INDEX);
        if (!Files.isRegularFile(index)) {
            return false;
        }
        try {
            return ModelFamily.SENSEFLOW.id().equals(ModelFolder.readJson(index, ModelFolder.INDEX).getString("family", ""));
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
    }

    /** Builds a {@link SenseFlowFolder}; {@link #build()} checks the components against each other. */
    public static final class Builder {
        private String name = "senseflow-model";
        private OnnxModel transformer;
        private OnnxModel textEncoder;
        private OnnxModel vaeDecoder;
        private OnnxModel vaeEncoder;
        private String tokenizerJson;
        private String padToken;
        private final Map<String, Path> weights = new LinkedHashMap<>();
        private SchedulerSpec scheduler;
        private GuidanceMode guidance;
        private ModelDefaults defaults;
        private final Map<String, String> provenance = new LinkedHashMap<>();
        private long externalDataThreshold = 1 << 20;

        private Builder() {
        }

        /** @param value the model's name (PNG metadata, logs) @return this builder */
        public Builder name(String value) {
            this.name = Objects.requireNonNull(value, "name");
            return this;
        }

        /** @param model a {@link FlowTransformer} graph @return this builder */
        public Builder transformer(OnnxModel model) {
            this.transformer = model;
            return this;
        }

        /** @param model a {@link TextTransformer} graph @return this builder */
        public Builder textEncoder(OnnxModel model) {
            this.textEncoder = model;
            return this;
        }

        /** @param model an {@link Autoencoder} decoder graph @return this builder */
        public Builder vaeDecoder(OnnxModel model) {
            this.vaeDecoder = model;
            return this;
        }

        /** @param model an {@link Autoencoder} encoder graph, or null for none @return this builder */
        public Builder vaeEncoder(OnnxModel model) {
            this.vaeEncoder = model;
            return this;
        }

        /**
         * @param json the content of a Hugging Face {@code tokenizer.json} whose ids fit the text encoder's vocabulary
         * @param pad the padding token (in that file)
         * @return this builder
         */
        public Builder tokenizer(String json, String pad) {
            this.tokenizerJson = Objects.requireNonNull(json, "tokenizer json");
            this.padToken = Objects.requireNonNull(pad, "pad token");
            return this;
        }

        /**
         * @param component {@code transformer}, {@code text_encoder}, {@code vae_decoder} or {@code vae_encoder}
         * @param safetensors weights replacing that graph's initializers of the same names (copied into the folder)
         * @return this builder
         */
        public Builder weights(String component, Path safetensors) {
            if (!List.of("transformer", "text_encoder", "vae_decoder", "vae_encoder").contains(component)) {
                throw InvalidRequestException.of("component", "transformer, text_encoder, vae_decoder or vae_encoder", component);
            }
            weights.put(component, Objects.requireNonNull(safetensors, "safetensors"));
            return this;
        }

        /** @param spec the sampler ({@link SchedulerSpec#fewStep} for a distilled student) @return this builder */
        public Builder scheduler(SchedulerSpec spec) {
            this.scheduler = spec;
            return this;
        }

        /** @param mode how the model takes guidance (default: none for few-step, CFG otherwise) @return this builder */
        public Builder guidance(GuidanceMode mode) {
            this.guidance = mode;
            return this;
        }

        /** @param d defaults for unset request fields (default: the anchors' count or 28 steps, the autoencoder's size) @return this builder */
        public Builder defaults(ModelDefaults d) {
            this.defaults = d;
            return this;
        }

        /** @param key a provenance field (teacher, recipe, seed, ...) @param value its value @return this builder */
        public Builder provenance(String key, String value) {
            provenance.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
            return this;
        }

        /** @param bytes initializers of at least this size go to {@code model.onnx_data} (default 1 MiB) @return this builder */
        public Builder externalDataThreshold(long bytes) {
            if (bytes < 0) {
                throw InvalidRequestException.of("externalDataThreshold", ">= 0", bytes);
            }
            this.externalDataThreshold = bytes;
            return this;
        }

        /**
         * @return the writer
         * @throws InvalidRequestException naming what is missing or does not fit
         */
        public SenseFlowFolder build() {
            require("transformer", transformer);
            require("textEncoder", textEncoder);
            require("vaeDecoder", vaeDecoder);
            require("tokenizer", tokenizerJson);
            require("scheduler", scheduler);
            if (guidance == null) {
                guidance = scheduler.isFewStep() ? GuidanceMode.NONE : GuidanceMode.CFG;
            }
            InHouseParts parts;
            try {
                parts = new InHouseParts(FlowTransformer.Config.fromMetadata(transformer.metadata(), "transformer"),
                        TextTransformer.Config.fromMetadata(textEncoder.metadata(), "text_encoder"),
                        Autoencoder.Config.fromMetadata(vaeDecoder.metadata(), "vae_decoder"));
            } catch (io.senseflow.ModelLoadException e) {
                throw new InvalidRequestException("not an io.senseflow.onnx.arch graph: " + e.getMessage(), e);
            }
            if (!Autoencoder.Part.DECODER.id().equals(vaeDecoder.metadata().get(ArchitectureMetadata.COMPONENT))) {
                throw InvalidRequestException.of("vaeDecoder", "an autoencoder decoder graph",
                        vaeDecoder.metadata().get(ArchitectureMetadata.COMPONENT));
            }
            if (vaeEncoder != null && !Autoencoder.Part.ENCODER.id().equals(vaeEncoder.metadata().get(ArchitectureMetadata.COMPONENT))) {
                throw InvalidRequestException.of("vaeEncoder", "an autoencoder encoder graph",
                        vaeEncoder.metadata().get(ArchitectureMetadata.COMPONENT));
            }
            if (weights.containsKey("vae_encoder") && vaeEncoder == null) {
                throw InvalidRequestException.of("weights", "a vae_encoder graph for the vae_encoder weights", "none");
            }
            parts.check(InvalidRequestException::new);
            return new SenseFlowFolder(this);
        }

        private static void require(String field, Object value) {
            if (value == null) {
                throw InvalidRequestException.of(field, "a value", "none");
            }
        }
    }
}
