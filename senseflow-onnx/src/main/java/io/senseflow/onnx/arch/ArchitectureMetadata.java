package io.senseflow.onnx.arch;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The metadata properties every in-house model carries, so a loader can tell what a file holds and rebuild its
 * configuration: {@value #ARCHITECTURE}, {@value #VERSION}, {@value #CONFIG} (the configuration as JSON),
 * {@value #SEED}, {@value #INIT}, {@value #PARAMETER_COUNT}, and for the autoencoder {@value #COMPONENT},
 * {@value #SCALING_FACTOR} and {@value #SHIFT_FACTOR}.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class ArchitectureMetadata {
    /** Which architecture the graph is: {@code flow_transformer}, {@code text_encoder} or {@code autoencoder}. */
    public static final String ARCHITECTURE = "senseflow.architecture";
    /** The version of the architecture definition; a graph written by a newer definition is refused. */
    public static final String VERSION = "senseflow.architecture_version";
    /** The configuration as a JSON object. */
    public static final String CONFIG = "senseflow.config";
    /** The initialisation seed. */
    public static final String SEED = "senseflow.seed";
    /** The initialisation mode, a name of {@link Init}. */
    public static final String INIT = "senseflow.init";
    /** The number of trainable parameter elements. */
    public static final String PARAMETER_COUNT = "senseflow.parameter_count";
    /** For models made of several graphs: which one this is ({@code encoder} or {@code decoder}). */
    public static final String COMPONENT = "senseflow.component";
    /** The autoencoder's latent scaling factor (latents fed to a flow model are {@code (z - shift) * scale}). */
    public static final String SCALING_FACTOR = "senseflow.scaling_factor";
    /** The autoencoder's latent shift factor. */
    public static final String SHIFT_FACTOR = "senseflow.shift_factor";
    /** The version this SDK writes and reads. */
    public static final String CURRENT_VERSION = "1";

    private ArchitectureMetadata() {
    }

    /**
     * @param model a model
     * @return the architecture named in its metadata, or empty for a model not built by this package
     */
    public static Optional<String> architectureOf(OnnxModel model) {
        return Optional.ofNullable(model.metadata().get(ARCHITECTURE));
    }

    /** Writes the properties every in-house model has. */
    static void write(GraphBuilder g, String architecture, String configJson, long seed, Init init, long parameters) {
        g.metadata(ARCHITECTURE, architecture);
        g.metadata(VERSION, CURRENT_VERSION);
        g.metadata(CONFIG, configJson);
        g.metadata(SEED, Long.toString(seed));
        g.metadata(INIT, init.name());
        g.metadata(PARAMETER_COUNT, Long.toString(parameters));
    }

    /**
     * Reads a configuration back from metadata properties.
     *
     * @param metadata the properties
     * @param source the model's name for messages (a file path, or the graph name)
     * @param architecture the architecture expected in {@value #ARCHITECTURE}
     * @param parse turns the config JSON into the configuration (and validates it)
     * @return the configuration
     * @throws ModelLoadException naming the source and the property when one is missing, names another architecture
     *     or a newer version, or holds malformed or invalid JSON
     */
    static <C> C readConfig(Map<String, String> metadata, String source, String architecture,
                            Function<JsonObject, C> parse) {
        String found = require(metadata, source, ARCHITECTURE);
        if (!found.equals(architecture)) {
            throw new ModelLoadException(source + ": metadata " + ARCHITECTURE + ": expected " + architecture
                    + ", got " + found);
        }
        String version = require(metadata, source, VERSION);
        if (!version.equals(CURRENT_VERSION)) {
            throw new ModelLoadException(source + ": metadata " + VERSION + ": expected " + CURRENT_VERSION
                    + " (the version this SDK reads), got " + version + "; a newer SDK wrote this model");
        }
        String json = require(metadata, source, CONFIG);
        try {
            return parse.apply(Json.parseObject(json));
        } catch (InvalidRequestException | JsonException e) {
            throw new ModelLoadException(source + ": metadata " + CONFIG + ": " + e.getMessage(), e);
        }
    }

    /** The value of a property, or a {@link ModelLoadException} naming it. */
    static String require(Map<String, String> metadata, String source, String key) {
        String v = metadata.get(key);
        if (v == null) {
            throw new ModelLoadException(source + ": metadata property " + key + " is missing; expected a model built by "
                    + "io.senseflow.onnx.arch (properties present: " + metadata.keySet() + ")");
        }
        return v;
    }

    /** A message source for a model: its graph name. */
    static String sourceOf(OnnxModel model) {
        return "model '" + model.graph().name() + "'";
    }
}
