package io.senseflow.onnx.runtime;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtProvider;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.OnnxModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Creates ONNX Runtime sessions ({@link OrtModel}s) and owns those it created: closing the runtime closes every model
 * still open. All runtimes share ONNX Runtime's one process-wide environment, which is created by the first
 * {@link #create} call (never in a static initializer) and lives as long as the process, as ONNX Runtime intends.
 *
 * <pre>{@code
 * try (OrtRuntime ort = OrtRuntime.create(SessionConfig.cuda(0))) {       // falls back to CPU with one warning
 *     OrtModel transformer = ort.load(dir.resolve("transformer/model.onnx"));
 *     OrtModel student = ort.load(graph, ort.defaultConfig(),
 *             WeightOverrides.fromSafetensors(dir.resolve("student.safetensors")));
 * }
 * }</pre>
 *
 * <p>ONNX Runtime's own log level is its default (warnings) unless the system property {@value #LOG_LEVEL_PROPERTY}
 * names one of {@code verbose}, {@code info}, {@code warning}, {@code error} or {@code fatal} before the first
 * runtime is created; the {@code senseflow} launcher sets {@code error} (and {@code warning} with {@code --verbose}).
 *
 * <p>Thread-safe.
 */
public final class OrtRuntime implements AutoCloseable {
    /** System property naming ONNX Runtime's log level for the process-wide environment (read once, at its creation). */
    public static final String LOG_LEVEL_PROPERTY = "senseflow.ort.logLevel";

    /** ONNX Runtime's session config key for the folder external data is resolved against when loading from bytes. */
    static final String EXTERNAL_DATA_FOLDER = "session.model_external_initializers_file_folder_path";

    private final OrtEnvironment env;
    private final SessionConfig defaultConfig;
    private final Set<OrtModel> open = new LinkedHashSet<>();
    private boolean closed;

    private OrtRuntime(OrtEnvironment env, SessionConfig defaultConfig) {
        this.env = env;
        this.defaultConfig = defaultConfig;
    }

    /** @return a runtime whose models run on the CPU with ONNX Runtime's defaults */
    public static OrtRuntime create() {
        return create(SessionConfig.defaults());
    }

    /**
     * @param defaultConfig the configuration used by the loads that do not name one
     * @return a runtime
     */
    public static OrtRuntime create(SessionConfig defaultConfig) {
        Objects.requireNonNull(defaultConfig, "defaultConfig");
        OrtEnvironment env;
        try {
            OrtLoggingLevel level = logLevel(System.getProperty(LOG_LEVEL_PROPERTY));
            env = level == null ? OrtEnvironment.getEnvironment()
                    : OrtEnvironment.getEnvironment(level, OrtEnvironment.DEFAULT_NAME);
        } catch (RuntimeException | LinkageError e) {
            throw new io.senseflow.BackendException("ONNX Runtime's native library could not be loaded on "
                    + System.getProperty("os.name") + "/" + System.getProperty("os.arch") + ": " + e, e);
        }
        return new OrtRuntime(env, defaultConfig);
    }

    static OrtLoggingLevel logLevel(String name) {
        if (name == null || name.isBlank()) {
            return null;
        }
        try {
            return OrtLoggingLevel.valueOf("ORT_LOGGING_LEVEL_" + name.trim().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new io.senseflow.InvalidRequestException(LOG_LEVEL_PROPERTY + " is \"" + name
                    + "\": expected verbose, info, warning, error or fatal");
        }
    }

    /** @return the configuration used when a load names none */
    public SessionConfig defaultConfig() {
        return defaultConfig;
    }

    /** @return the ONNX Runtime version */
    public String ortVersion() {
        return env.getVersion();
    }

    /**
     * The providers compiled into the ONNX Runtime library on the class path. Informational only: the GPU build lists
     * CUDA even when the CUDA libraries cannot be loaded, which is why sessions try CUDA and fall back.
     *
     * @return the compiled-in providers the SDK knows
     */
    public static Set<ExecutionProvider> compiledProviders() {
        EnumSet<ExecutionProvider> out = EnumSet.of(ExecutionProvider.CPU);
        if (OrtEnvironment.getAvailableProviders().contains(OrtProvider.CUDA)) {
            out.add(ExecutionProvider.CUDA);
        }
        return out;
    }

    /**
     * @param model an {@code .onnx} file (external data is found next to it)
     * @return the loaded model, with the default configuration
     */
    public OrtModel load(Path model) {
        return load(model, defaultConfig);
    }

    /**
     * @param model an {@code .onnx} file
     * @param config the session configuration
     * @return the loaded model
     * @throws ModelLoadException if the file is missing or ONNX Runtime refuses it
     */
    public OrtModel load(Path model, SessionConfig config) {
        Path abs = checkFile(model);
        String name = displayName(abs);
        return register(name, config, SessionFactory.create(env, name, (e, o) -> e.createSession(abs.toString(), o),
                config, o -> { }));
    }

    /**
     * Loads a model whose initializers are replaced by the tensors of a safetensors file (see
     * {@link WeightOverrides}). The model file is read, never written.
     *
     * @param model an {@code .onnx} file
     * @param config the session configuration
     * @param weights the replacement weights
     * @return the loaded model
     * @throws ModelLoadException naming the tensor when a weight matches no initializer, has the wrong shape or type,
     *     or (with {@link WeightOverrides#requireAll()}) is missing
     */
    public OrtModel load(Path model, SessionConfig config, WeightOverrides weights) {
        Path abs = checkFile(model);
        return load(OnnxModel.read(abs), displayName(abs), abs.getParent(), config, weights);
    }

    /**
     * Loads a model built or edited in memory (payloads are serialized inline, so it must stay under protobuf's
     * 2 GiB limit).
     *
     * @param model the model
     * @param name a display name for messages
     * @param config the session configuration
     * @return the loaded model
     */
    public OrtModel load(OnnxModel model, String name, SessionConfig config) {
        byte[] bytes = model.toByteArray();
        return register(name, config, SessionFactory.create(env, name, (e, o) -> e.createSession(bytes, o), config, o -> { }));
    }

    /**
     * Loads a model edited in memory whose untouched initializers may still live in external data files next to the
     * original {@code .onnx} file: those stay references (resolved in {@code externalDataFolder}). The initializers
     * named in {@code separately} are handed to ONNX Runtime as external initializers instead of being serialized
     * into the model bytes, so together they may exceed protobuf's 2 GiB limit (ONNX Runtime copies them into the
     * session); every other payload is serialized inline.
     *
     * @param model the model (e.g. read with {@link OnnxModel#read} and given new initializers)
     * @param name a display name for messages
     * @param externalDataFolder the folder of the model's external data files, or null when it has none
     * @param config the session configuration
     * @param separately names of float main-graph initializers to pass beside the model bytes (e.g. merged weights)
     * @return the loaded model
     * @throws ModelLoadException if a name is not a float initializer of the main graph, or ONNX Runtime refuses
     */
    public OrtModel load(OnnxModel model, String name, Path externalDataFolder, SessionConfig config,
                         Set<String> separately) {
        checkOpen();
        Map<String, ai.onnxruntime.OnnxTensorLike> tensors = new LinkedHashMap<>();
        try {
            Map<String, io.senseflow.onnx.ir.ExternalData> refs = new LinkedHashMap<>();
            for (String n : separately) {
                io.senseflow.onnx.ir.TensorValue t = model.graph().initializer(n).filter(v -> v.dataType()
                        == io.senseflow.onnx.ir.DataType.FLOAT).orElseThrow(() -> new ModelLoadException(name
                        + ": expected a float32 main-graph initializer '" + n + "' to pass separately, found none"));
                tensors.put(n, Conversions.fromFloats(env, t.toFloats(), t.dims(), t.dataType(), name
                        + ": initializer '" + n + "'"));
                refs.put(n, new io.senseflow.onnx.ir.ExternalData(ExternalWeights.PLACEHOLDER, 0, t.byteSize(), null));
            }
            byte[] bytes = model.toByteArrayWithExternalReferences(refs);
            return register(name, config, SessionFactory.create(env, name, (e, o) -> e.createSession(bytes, o), config,
                    o -> {
                        if (externalDataFolder != null) {
                            o.addConfigEntry(EXTERNAL_DATA_FOLDER, externalDataFolder.toAbsolutePath().toString());
                        }
                        o.addExternalInitializers(tensors);
                    }));
        } catch (ai.onnxruntime.OrtException e) {
            throw new ModelLoadException(name + ": cannot prepare initializers: " + e.getMessage(), e);
        } finally {
            tensors.values().forEach(t -> ((ai.onnxruntime.OnnxTensor) t).close());
        }
    }

    /**
     * Loads a model built in memory with replacement weights.
     *
     * @param model the model
     * @param name a display name for messages
     * @param config the session configuration
     * @param weights the replacement weights
     * @return the loaded model
     */
    public OrtModel load(OnnxModel model, String name, SessionConfig config, WeightOverrides weights) {
        return load(model, name, null, config, weights);
    }

    private OrtModel load(OnnxModel model, String name, Path folder, SessionConfig config, WeightOverrides weights) {
        Objects.requireNonNull(weights, "weights");
        checkOpen();
        try (ExternalWeights w = ExternalWeights.prepare(env, model, name, weights)) {
            return register(name, config, SessionFactory.create(env, name, (e, o) -> e.createSession(w.modelBytes(), o), config,
                    o -> {
                        if (folder != null) {
                            o.addConfigEntry(EXTERNAL_DATA_FOLDER, folder.toString());
                        }
                        o.addExternalInitializers(w.tensors());
                    }));
        }
    }

    private OrtModel register(String name, SessionConfig config, SessionFactory.Created created) {
        OrtModel[] holder = new OrtModel[1];
        OrtModel m = new OrtModel(name, env, created, config, () -> forget(holder[0]));
        holder[0] = m;
        synchronized (this) {
            if (closed) {
                m.close();
                throw new IllegalStateException("OrtRuntime is closed");
            }
            open.add(m);
        }
        return m;
    }

    private synchronized void forget(OrtModel m) {
        open.remove(m);
    }

    private synchronized void checkOpen() {
        if (closed) {
            throw new IllegalStateException("OrtRuntime is closed; create a new one");
        }
    }

    private Path checkFile(Path model) {
        checkOpen();
        Path abs = Objects.requireNonNull(model, "model").toAbsolutePath();
        if (!Files.exists(abs)) {
            throw new ModelLoadException("ONNX model file " + abs + " does not exist");
        }
        if (!Files.isRegularFile(abs)) {
            throw new ModelLoadException(abs + " is not a file; expected an .onnx model file");
        }
        return abs;
    }

    /** @return {@code folder/file.onnx}, the part of a path that tells models of one layout apart */
    static String displayName(Path abs) {
        Path parent = abs.getParent();
        return parent == null || parent.getFileName() == null ? abs.getFileName().toString()
                : parent.getFileName() + "/" + abs.getFileName();
    }

    /** @return the number of models this runtime created that are still open */
    public synchronized int openModels() {
        return open.size();
    }

    /**
     * @return the run timings of the models this runtime created that are still open, by model name (see
     *     {@link OrtModel#statistics()}; models of one name are added up). A model folder's components share one
     *     runtime, so this covers a whole pipeline: {@code transformer/model.onnx}, {@code text_encoder/model.onnx}, ...
     */
    public synchronized Map<String, RunStatistics> statistics() {
        Map<String, RunStatistics> out = new LinkedHashMap<>();
        for (OrtModel m : open) {
            out.merge(m.name(), m.statistics(), RunStatistics::plus);
        }
        return out;
    }

    /** Closes every model this runtime created that is still open. Closing twice does nothing. */
    @Override
    public void close() {
        List<OrtModel> toClose;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            toClose = new ArrayList<>(open);
        }
        RuntimeException failure = null;
        for (OrtModel m : toClose) {
            try {
                m.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
