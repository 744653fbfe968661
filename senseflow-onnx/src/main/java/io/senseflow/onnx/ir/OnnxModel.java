package io.senseflow.onnx.ir;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;

/**
 * An immutable ONNX model ({@code ModelProto}): a graph, the operator sets it uses, producer information and
 * metadata. Read one with {@link #read(Path)}, build one with {@link GraphBuilder}, write one with
 * {@link #write(Path, WriteOptions)}.
 *
 * <p>Fields the SDK does not model (model-local functions, training information) are kept as
 * {@link UnknownFields} and written back unchanged.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class OnnxModel {
    private final long irVersion;
    private final List<OpsetImport> opsetImports;
    private final String producerName;
    private final String producerVersion;
    private final String domain;
    private final long modelVersion;
    private final String docString;
    private final OnnxGraph graph;
    private final Map<String, String> metadata;
    private final UnknownFields unknownFields;

    /**
     * @param irVersion the IR version (8 for opsets 15 to 18)
     * @param opsetImports the operator sets used
     * @param producerName the producing tool, may be empty
     * @param producerVersion its version, may be empty
     * @param domain the model's domain, may be empty
     * @param modelVersion the model's version number
     * @param docString documentation, may be empty
     * @param graph the graph
     * @param metadata metadata properties, in order
     * @param unknownFields fields this SDK does not model
     */
    public OnnxModel(long irVersion, List<OpsetImport> opsetImports, String producerName, String producerVersion,
                     String domain, long modelVersion, String docString, OnnxGraph graph, Map<String, String> metadata,
                     UnknownFields unknownFields) {
        this.irVersion = irVersion;
        this.opsetImports = List.copyOf(opsetImports);
        this.producerName = Objects.requireNonNull(producerName, "producerName");
        this.producerVersion = Objects.requireNonNull(producerVersion, "producerVersion");
        this.domain = Objects.requireNonNull(domain, "domain");
        this.modelVersion = modelVersion;
        this.docString = Objects.requireNonNull(docString, "docString");
        this.graph = Objects.requireNonNull(graph, "graph");
        this.metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        this.unknownFields = Objects.requireNonNull(unknownFields, "unknownFields");
    }

    // ---------------------------------------------------------------- files

    /**
     * Reads a model file. Tensors stored as external data are checked (file present, range inside the file) but
     * read only when their bytes are asked for.
     *
     * @param path the {@code .onnx} file
     * @return the model
     * @throws io.senseflow.ModelLoadException if the file is missing, larger than protobuf's 2 GiB limit, corrupt,
     *     or refers to missing or too short external data; the message names the file and the problem
     */
    public static OnnxModel read(Path path) {
        return ModelFiles.read(path);
    }

    /**
     * Parses a model from bytes. External data cannot be resolved without a folder: such tensors can be inspected
     * but not read.
     *
     * @param bytes the serialized {@code ModelProto}
     * @param sourceName a name for error messages
     * @return the model
     * @throws io.senseflow.ModelLoadException if the bytes are not a valid model
     */
    public static OnnxModel parse(byte[] bytes, String sourceName) {
        return ModelDecoder.decode(bytes, sourceName, null);
    }

    /**
     * Writes the model with every payload inline.
     *
     * @param path the destination, replaced atomically
     * @throws io.senseflow.InvalidRequestException if the model would exceed protobuf's 2 GiB limit
     * @throws io.senseflow.CheckpointException if writing fails
     */
    public void write(Path path) {
        write(path, WriteOptions.inline());
    }

    /**
     * Writes the model, with large initializers in a data file if the options ask for it. The data file is written
     * first, then the model file; each replaces its destination atomically.
     *
     * @param path the destination model file
     * @param options where payloads go
     * @throws io.senseflow.InvalidRequestException if the model file would exceed protobuf's 2 GiB limit
     * @throws io.senseflow.CheckpointException if writing fails
     */
    public void write(Path path, WriteOptions options) {
        ModelFiles.write(this, path, options);
    }

    /**
     * @return the serialized {@code ModelProto} with every payload inline (external payloads are read in)
     * @throws io.senseflow.InvalidRequestException if it would exceed protobuf's 2 GiB limit
     */
    public byte[] toByteArray() {
        return ModelFiles.toByteArray(this);
    }

    /**
     * The serialized {@code ModelProto} for a runtime that resolves external data itself (ONNX Runtime, given the
     * model's folder): payloads that already live in external data files stay references to them (locations as
     * read), the main-graph initializers named in {@code references} become references to the given places and
     * their payloads are not read, and every other payload is inline. ONNX Runtime's external initializers replace
     * only initializers stored as external data; this is how the SDK swaps weights without touching the file.
     *
     * @param references main-graph initializer name to the external place written for it
     * @return the serialized model
     * @throws io.senseflow.InvalidRequestException if a name is not a main-graph initializer, or the model would
     *     exceed protobuf's 2 GiB limit
     */
    public byte[] toByteArrayWithExternalReferences(Map<String, ExternalData> references) {
        return ModelFiles.toByteArrayWithExternalReferences(this, references);
    }

    // ---------------------------------------------------------------- properties

    /** @return the IR version */
    public long irVersion() {
        return irVersion;
    }

    /** @return the operator sets used */
    public List<OpsetImport> opsetImports() {
        return opsetImports;
    }

    /**
     * @param opsetDomain a domain; {@code ""} and {@code "ai.onnx"} both mean the default ONNX domain
     * @return the imported version of that domain, if imported
     */
    public OptionalLong opsetVersion(String opsetDomain) {
        boolean wantDefault = opsetDomain.isEmpty() || opsetDomain.equals("ai.onnx");
        for (OpsetImport o : opsetImports) {
            if (wantDefault ? o.isDefaultDomain() : o.domain().equals(opsetDomain)) {
                return OptionalLong.of(o.version());
            }
        }
        return OptionalLong.empty();
    }

    /** @return the producing tool */
    public String producerName() {
        return producerName;
    }

    /** @return the producing tool's version */
    public String producerVersion() {
        return producerVersion;
    }

    /** @return the model domain */
    public String domain() {
        return domain;
    }

    /** @return the model version */
    public long modelVersion() {
        return modelVersion;
    }

    /** @return documentation */
    public String docString() {
        return docString;
    }

    /** @return the graph */
    public OnnxGraph graph() {
        return graph;
    }

    /** @return the metadata properties, in order */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** @return fields this SDK does not model */
    public UnknownFields unknownFields() {
        return unknownFields;
    }

    // ---------------------------------------------------------------- copies

    /** @param newGraph a graph @return a copy with it */
    public OnnxModel withGraph(OnnxGraph newGraph) {
        return new OnnxModel(irVersion, opsetImports, producerName, producerVersion, domain, modelVersion, docString,
                newGraph, metadata, unknownFields);
    }

    /** @param newMetadata metadata properties @return a copy with exactly these */
    public OnnxModel withMetadata(Map<String, String> newMetadata) {
        return new OnnxModel(irVersion, opsetImports, producerName, producerVersion, domain, modelVersion, docString,
                graph, newMetadata, unknownFields);
    }

    /**
     * @param key a metadata key
     * @param value its value
     * @return a copy with that property added or replaced
     */
    public OnnxModel withMetadata(String key, String value) {
        Map<String, String> m = new LinkedHashMap<>(metadata);
        m.put(key, value);
        return withMetadata(m);
    }

    /**
     * @param name producer name
     * @param version producer version
     * @return a copy with that producer
     */
    public OnnxModel withProducer(String name, String version) {
        return new OnnxModel(irVersion, opsetImports, name, version, domain, modelVersion, docString, graph, metadata,
                unknownFields);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof OnnxModel m)) {
            return false;
        }
        return irVersion == m.irVersion && opsetImports.equals(m.opsetImports) && producerName.equals(m.producerName)
                && producerVersion.equals(m.producerVersion) && domain.equals(m.domain) && modelVersion == m.modelVersion
                && docString.equals(m.docString) && graph.equals(m.graph) && metadata.equals(m.metadata)
                && unknownFields.equals(m.unknownFields);
    }

    @Override
    public int hashCode() {
        return Objects.hash(irVersion, opsetImports, graph);
    }

    @Override
    public String toString() {
        return "OnnxModel[ir " + irVersion + ", opsets " + opsetImports + ", producer " + producerName + " "
                + producerVersion + ", " + graph + "]";
    }
}
