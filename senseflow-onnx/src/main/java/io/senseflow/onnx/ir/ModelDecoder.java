package io.senseflow.onnx.ir;

import io.senseflow.ModelLoadException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Decodes a serialized {@code ModelProto} into the immutable IR, checking the wire format and the ONNX rules that
 * matter for reading payloads safely. Field numbers are those of the ONNX IR spec ({@code onnx.proto3}).
 *
 * <p>Every problem becomes a {@link ModelLoadException} whose message names the source, the place in the model
 * ({@code graph: node[3] "/MatMul": attribute "perm"}) and what was wrong.
 */
final class ModelDecoder {
    /** Deepest nesting of subgraphs accepted (protobuf's own recursion limit allows about 33). */
    static final int MAX_GRAPH_DEPTH = 32;

    private final Path baseDir;
    private final Map<Path, Long> fileSizes = new HashMap<>();

    private ModelDecoder(Path baseDir) {
        this.baseDir = baseDir;
    }

    /**
     * @param bytes the serialized model
     * @param source the file or name for messages
     * @param baseDir the folder external data is relative to, or null when unknown
     * @return the model
     */
    static OnnxModel decode(byte[] bytes, String source, Path baseDir) {
        try {
            return new ModelDecoder(baseDir == null ? null : baseDir.toAbsolutePath().normalize())
                    .model(new ProtoReader(bytes, 0, bytes.length));
        } catch (WireFormatException e) {
            throw new ModelLoadException(source + ": cannot read ONNX model: " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- ModelProto

    private OnnxModel model(ProtoReader r) {
        long irVersion = 0;
        List<OpsetImport> opsets = new ArrayList<>();
        String producerName = "";
        String producerVersion = "";
        String domain = "";
        long modelVersion = 0;
        String docString = "";
        OnnxGraph graph = null;
        Map<String, String> metadata = new LinkedHashMap<>();
        UnknownFields.Collector unknown = new UnknownFields.Collector();
        while (r.hasRemaining()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> irVersion = varint(r, tag, "ir_version");
                case 2 -> producerName = string(r, tag, "producer_name");
                case 3 -> producerVersion = string(r, tag, "producer_version");
                case 4 -> domain = string(r, tag, "domain");
                case 5 -> modelVersion = varint(r, tag, "model_version");
                case 6 -> docString = string(r, tag, "doc_string");
                case 7 -> {
                    ProtoReader sub = message(r, tag, "graph");
                    graph = in("graph", () -> graph(sub, 1));
                }
                case 8 -> {
                    ProtoReader sub = message(r, tag, "opset_import");
                    opsets.add(in("opset_import[" + opsets.size() + "]", () -> opset(sub)));
                }
                case 14 -> {
                    ProtoReader sub = message(r, tag, "metadata_props");
                    String[] kv = in("metadata_props[" + metadata.size() + "]", () -> entry(sub));
                    if (metadata.putIfAbsent(kv[0], kv[1]) != null) {
                        throw new WireFormatException("metadata_props: duplicate key \"" + kv[0] + "\"");
                    }
                }
                default -> skipUnknown(r, tag, unknown);
            }
        }
        if (graph == null) {
            throw new WireFormatException("the model has no graph (field 7); is this an ONNX model file, and is it complete?");
        }
        if (irVersion <= 0) {
            throw new WireFormatException("ir_version is missing or not positive (" + irVersion + ")");
        }
        if (irVersion >= 3 && opsets.isEmpty()) {
            throw new WireFormatException("the model imports no operator set (opset_import is empty); is the file complete?");
        }
        return new OnnxModel(irVersion, opsets, producerName, producerVersion, domain, modelVersion, docString, graph,
                metadata, unknown.build());
    }

    private OpsetImport opset(ProtoReader r) {
        String domain = "";
        long version = 0;
        while (r.hasRemaining()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> domain = string(r, tag, "domain");
                case 2 -> version = varint(r, tag, "version");
                default -> r.skip(tag & 7);
            }
        }
        return new OpsetImport(domain, version);
    }

    private String[] entry(ProtoReader r) {
        String key = "";
        String value = "";
        while (r.hasRemaining()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> key = string(r, tag, "key");
                case 2 -> value = string(r, tag, "value");
                default -> r.skip(tag & 7);
            }
        }
        return new String[] {key, value};
    }

    // ---------------------------------------------------------------- GraphProto

    private OnnxGraph graph(ProtoReader r, int depth) {
        if (depth > MAX_GRAPH_DEPTH) {
            throw new WireFormatException("subgraphs are nested deeper than " + MAX_GRAPH_DEPTH + " levels");
        }
        String name = "";
        List<OnnxNode> nodes = new ArrayList<>();
        List<TensorValue> initializers = new ArrayList<>();
        List<ValueInfo> inputs = new ArrayList<>();
        List<ValueInfo> outputs = new ArrayList<>();
        List<ValueInfo> valueInfo = new ArrayList<>();
        String docString = "";
        UnknownFields.Collector unknown = new UnknownFields.Collector();
        while (r.hasRemaining()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> {
                    ProtoReader sub = message(r, tag, "node");
                    nodes.add(in("node[" + nodes.size() + "]", () -> node(sub, depth)));
                }
                case 2 -> name = string(r, tag, "name");
                case 5 -> {
                    ProtoReader sub = message(r, tag, "initializer");
                    initializers.add(in("initializer[" + initializers.size() + "]", () -> tensor(sub)));
                }
                case 10 -> docString = string(r, tag, "doc_string");
                case 11 -> {
                    ProtoReader sub = message(r, tag, "input");
                    inputs.add(in("input[" + inputs.size() + "]", () -> valueInfo(sub)));
                }
                case 12 -> {
                    ProtoReader sub = message(r, tag, "output");
                    outputs.add(in("output[" + outputs.size() + "]", () -> valueInfo(sub)));
                }
                case 13 -> {
                    ProtoReader sub = message(r, tag, "value_info");
                    valueInfo.add(in("value_info[" + valueInfo.size() + "]", () -> valueInfo(sub)));
                }
                default -> skipUnknown(r, tag, unknown);
            }
        }
        return new OnnxGraph(name, nodes, initializers, inputs, outputs, valueInfo, docString, unknown.build());
    }

    // ---------------------------------------------------------------- NodeProto

    private OnnxNode node(ProtoReader r, int depth) {
        List<String> inputs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        String name = "";
        String opType = "";
        String domain = "";
        List<OnnxAttribute> attributes = new ArrayList<>();
        String docString = "";
        UnknownFields.Collector unknown = new UnknownFields.Collector();
        while (r.hasRemaining()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> inputs.add(string(r, tag, "input"));
                case 2 -> outputs.add(string(r, tag, "output"));
                case 3 -> name = string(r, tag, "name");
                case 4 -> opType = string(r, tag, "op_type");
                case 5 -> {
                    ProtoReader sub = message(r, tag, "attribute");
                    attributes.add(in("attribute[" + attributes.size() + "]", () -> attribute(sub, depth)));
                }
                case 6 -> docString = string(r, tag, "doc_string");
                case 7 -> domain = string(r, tag, "domain");
                default -> skipUnknown(r, tag, unknown);
            }
        }
        if (opType.isEmpty()) {
            throw new WireFormatException("node " + (name.isEmpty() ? "" : "\"" + name + "\" ") + "has no op_type");
        }
        return new OnnxNode(opType, inputs, outputs, name, domain, attributes, docString, unknown.build());
    }

    // ---------------------------------------------------------------- AttributeProto

    private OnnxAttribute attribute(ProtoReader r, int depth) {
        String name = "";
        long typeCode = -1;
        String docString = "";
        Float f = null;
        Long i = null;
        byte[] s = null;
        TensorValue t = null;
        OnnxGraph g = null;
        FloatBytes floats = null;
        LongList ints = null;
        List<byte[]> strings = null;
        List<TensorValue> tensors = null;
        List<OnnxGraph> graphs = null;
        int present = 0; // bit per value field number
        UnknownFields.Collector unknown = new UnknownFields.Collector();
        while (r.hasRemaining()) {
            int tag = r.readTag();
            int field = tag >>> 3;
            switch (field) {
                case 1 -> name = string(r, tag, "name");
                case 2 -> {
                    wire(tag, ProtoReader.FIXED32, "f");
                    f = Float.intBitsToFloat(r.readFixed32());
                }
                case 3 -> i = varint(r, tag, "i");
                case 4 -> {
                    wire(tag, ProtoReader.LEN, "s");
                    s = r.readBytes();
                }
                case 5 -> {
                    ProtoReader sub = message(r, tag, "t");
                    t = in("t", () -> tensor(sub));
                }
                case 6 -> {
                    ProtoReader sub = message(r, tag, "g");
                    g = in("g", () -> graph(sub, depth + 1));
                }
                case 7 -> {
                    if (floats == null) {
                        floats = new FloatBytes();
                    }
                    readFixed32s(r, tag, "floats", floats);
                }
                case 8 -> {
                    if (ints == null) {
                        ints = new LongList();
                    }
                    readVarints(r, tag, "ints", ints);
                }
                case 9 -> {
                    wire(tag, ProtoReader.LEN, "strings");
                    if (strings == null) {
                        strings = new ArrayList<>();
                    }
                    strings.add(r.readBytes());
                }
                case 10 -> {
                    ProtoReader sub = message(r, tag, "tensors");
                    if (tensors == null) {
                        tensors = new ArrayList<>();
                    }
                    int k = tensors.size();
                    tensors.add(in("tensors[" + k + "]", () -> tensor(sub)));
                }
                case 11 -> {
                    ProtoReader sub = message(r, tag, "graphs");
                    if (graphs == null) {
                        graphs = new ArrayList<>();
                    }
                    int k = graphs.size();
                    graphs.add(in("graphs[" + k + "]", () -> graph(sub, depth + 1)));
                }
                case 13 -> docString = string(r, tag, "doc_string");
                case 20 -> typeCode = varint(r, tag, "type");
                default -> skipUnknown(r, tag, unknown);
            }
            if (field >= 2 && field <= 11) {
                present |= 1 << field;
            }
        }
        String label = "attribute \"" + name + "\"";
        if (name.isEmpty()) {
            throw new WireFormatException("attribute has no name");
        }
        AttributeType type;
        if (typeCode < 0 || typeCode == 0) {
            type = inferType(present, label);
        } else {
            type = AttributeType.fromCode(typeCode);
            if (type == null) {
                throw new WireFormatException(label + " has unknown type " + typeCode);
            }
        }
        int expectedField = valueField(type);
        int others = present & ~(expectedField < 0 ? 0 : 1 << expectedField);
        if (others != 0) {
            throw new WireFormatException(label + " of type " + type + " also carries a value in field "
                    + Integer.numberOfTrailingZeros(others) + "; an attribute holds exactly one value");
        }
        Object value = switch (type) {
            case FLOAT -> f == null ? 0f : f;
            case INT -> i == null ? 0L : i;
            case STRING -> s == null ? new byte[0] : s;
            case TENSOR -> {
                if (t == null) {
                    throw new WireFormatException(label + " of type TENSOR has no tensor");
                }
                yield t;
            }
            case GRAPH -> {
                if (g == null) {
                    throw new WireFormatException(label + " of type GRAPH has no graph");
                }
                yield g;
            }
            case FLOATS -> floats == null ? new float[0] : floats.toFloatArray();
            case INTS -> ints == null ? new long[0] : ints.toArray();
            case STRINGS -> strings == null ? List.of() : List.copyOf(strings);
            case TENSORS -> tensors == null ? List.of() : List.copyOf(tensors);
            case GRAPHS -> graphs == null ? List.of() : List.copyOf(graphs);
            default -> null; // sparse tensors and type protos stay in the unknown fields
        };
        return new OnnxAttribute(name, type, value, docString, unknown.build());
    }

    private static AttributeType inferType(int present, String label) {
        if (Integer.bitCount(present) != 1) {
            throw new WireFormatException(label + " has no type and " + (present == 0 ? "no value" : "several values"));
        }
        return switch (Integer.numberOfTrailingZeros(present)) {
            case 2 -> AttributeType.FLOAT;
            case 3 -> AttributeType.INT;
            case 4 -> AttributeType.STRING;
            case 5 -> AttributeType.TENSOR;
            case 6 -> AttributeType.GRAPH;
            case 7 -> AttributeType.FLOATS;
            case 8 -> AttributeType.INTS;
            case 9 -> AttributeType.STRINGS;
            case 10 -> AttributeType.TENSORS;
            default -> AttributeType.GRAPHS;
        };
    }

    /** @return the AttributeProto field that carries a value of the type, or -1 for types not modelled */
    static int valueField(AttributeType type) {
        return switch (type) {
            case FLOAT -> 2;
            case INT -> 3;
            case STRING -> 4;
            case TENSOR -> 5;
            case GRAPH -> 6;
            case FLOATS -> 7;
            case INTS -> 8;
            case STRINGS -> 9;
            case TENSORS -> 10;
            case GRAPHS -> 11;
            default -> -1;
        };
    }

    // ---------------------------------------------------------------- ValueInfoProto

    private ValueInfo valueInfo(ProtoReader r) {
        String name = "";
        String docString = "";
        TypeParts type = new TypeParts();
        UnknownFields.Collector unknown = new UnknownFields.Collector();
        while (r.hasRemaining()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> name = string(r, tag, "name");
                case 2 -> {
                    ProtoReader sub = message(r, tag, "type");
                    type = in("type", () -> typeProto(sub));
                }
                case 3 -> docString = string(r, tag, "doc_string");
                default -> skipUnknown(r, tag, unknown);
            }
        }
        return new ValueInfo(name, type.elementType, type.shape, docString, type.extras, unknown.build());
    }

    /** The parts of a TypeProto the IR models. */
    private static final class TypeParts {
        DataType elementType = DataType.UNDEFINED;
        List<Dim> shape;
        UnknownFields extras = UnknownFields.EMPTY;
    }

    private TypeParts typeProto(ProtoReader r) {
        TypeParts parts = new TypeParts();
        UnknownFields.Collector extras = new UnknownFields.Collector();
        while (r.hasRemaining()) {
            int tag = r.readTag();
            if (tag >>> 3 == 1) {
                ProtoReader tensorType = message(r, tag, "tensor_type");
                while (tensorType.hasRemaining()) {
                    int t = tensorType.readTag();
                    switch (t >>> 3) {
                        case 1 -> {
                            long code = varint(tensorType, t, "elem_type");
                            DataType dt = DataType.fromCode(code);
                            if (dt == null) {
                                throw new WireFormatException("tensor_type has unknown elem_type " + code);
                            }
                            parts.elementType = dt;
                        }
                        case 2 -> parts.shape = shape(message(tensorType, t, "shape"));
                        default -> tensorType.skip(t & 7);
                    }
                }
            } else {
                skipUnknown(r, tag, extras);
            }
        }
        parts.extras = extras.build();
        return parts;
    }

    private List<Dim> shape(ProtoReader r) {
        List<Dim> dims = new ArrayList<>();
        while (r.hasRemaining()) {
            int tag = r.readTag();
            if (tag >>> 3 != 1) {
                r.skip(tag & 7);
                continue;
            }
            ProtoReader d = message(r, tag, "dim");
            Dim dim = Dim.unknown();
            while (d.hasRemaining()) {
                int t = d.readTag();
                switch (t >>> 3) {
                    case 1 -> dim = new Dim.Fixed(varint(d, t, "dim_value"));
                    case 2 -> dim = new Dim.Symbolic(string(d, t, "dim_param"));
                    default -> d.skip(t & 7); // denotation is not modelled
                }
            }
            dims.add(dim);
        }
        return dims;
    }

    // ---------------------------------------------------------------- TensorProto

    private TensorValue tensor(ProtoReader r) {
        LongList dimsList = new LongList();
        long typeCode = 0;
        String name = "";
        String docString = "";
        ByteBuffer raw = null;
        FloatBytes floatData = null;
        FloatBytes doubleData = null;
        LongList int32Data = null;
        LongList int64Data = null;
        LongList uint64Data = null;
        List<byte[]> stringData = null;
        List<String[]> externalEntries = null;
        long dataLocation = 0;
        UnknownFields.Collector unknown = new UnknownFields.Collector();
        while (r.hasRemaining()) {
            int tag = r.readTag();
            switch (tag >>> 3) {
                case 1 -> readVarints(r, tag, "dims", dimsList);
                case 2 -> typeCode = varint(r, tag, "data_type");
                case 4 -> {
                    if (floatData == null) {
                        floatData = new FloatBytes();
                    }
                    readFixed32s(r, tag, "float_data", floatData);
                }
                case 5 -> {
                    if (int32Data == null) {
                        int32Data = new LongList();
                    }
                    readVarints(r, tag, "int32_data", int32Data);
                }
                case 6 -> {
                    wire(tag, ProtoReader.LEN, "string_data");
                    if (stringData == null) {
                        stringData = new ArrayList<>();
                    }
                    stringData.add(r.readBytes());
                }
                case 7 -> {
                    if (int64Data == null) {
                        int64Data = new LongList();
                    }
                    readVarints(r, tag, "int64_data", int64Data);
                }
                case 8 -> name = string(r, tag, "name");
                case 9 -> {
                    wire(tag, ProtoReader.LEN, "raw_data");
                    raw = r.readBytesView();
                }
                case 10 -> {
                    if (doubleData == null) {
                        doubleData = new FloatBytes();
                    }
                    readFixed64s(r, tag, "double_data", doubleData);
                }
                case 11 -> {
                    if (uint64Data == null) {
                        uint64Data = new LongList();
                    }
                    readVarints(r, tag, "uint64_data", uint64Data);
                }
                case 12 -> docString = string(r, tag, "doc_string");
                case 13 -> {
                    ProtoReader sub = message(r, tag, "external_data");
                    if (externalEntries == null) {
                        externalEntries = new ArrayList<>();
                    }
                    externalEntries.add(entry(sub));
                }
                case 14 -> dataLocation = varint(r, tag, "data_location");
                default -> skipUnknown(r, tag, unknown);
            }
        }
        String label = "tensor \"" + name + "\"";
        DataType type = DataType.fromCode(typeCode);
        if (type == null || type == DataType.UNDEFINED) {
            throw new WireFormatException(label + " has " + (typeCode == 0 ? "no data_type" : "unknown data_type " + typeCode));
        }
        long[] dims = dimsList.toArray();
        long count = 1;
        for (long d : dims) {
            if (d < 0) {
                throw new WireFormatException(label + " has a negative dimension in " + Arrays.toString(dims));
            }
            try {
                count = Math.multiplyExact(count, d);
            } catch (ArithmeticException e) {
                throw new WireFormatException(label + " dims " + Arrays.toString(dims) + " overflow the element count");
            }
        }
        long expectedBytes;
        try {
            expectedBytes = type == DataType.STRING ? -1 : type.byteSize(count);
        } catch (ArithmeticException e) {
            throw new WireFormatException(label + " dims " + Arrays.toString(dims) + " overflow the byte size");
        }
        String shape = type + " " + Arrays.toString(dims);

        int forms = (raw != null ? 1 : 0) + (floatData != null ? 1 : 0) + (doubleData != null ? 1 : 0)
                + (int32Data != null ? 1 : 0) + (int64Data != null ? 1 : 0) + (uint64Data != null ? 1 : 0)
                + (stringData != null ? 1 : 0);
        if (dataLocation == 1) {
            if (forms != 0) {
                throw new WireFormatException(label + " is marked as external data but also carries inline data");
            }
            ExternalData ext = external(label, externalEntries, type, expectedBytes);
            return new TensorValue(name, type, dims, count, TensorValue.Storage.EXTERNAL, null, null, ext, docString,
                    unknown.build());
        }
        if (dataLocation != 0) {
            throw new WireFormatException(label + " has unknown data_location " + dataLocation);
        }
        if (externalEntries != null) {
            throw new WireFormatException(label + " has external_data entries but data_location is not EXTERNAL");
        }
        if (forms > 1) {
            throw new WireFormatException(label + " carries data in more than one field");
        }
        if (type == DataType.STRING) {
            if (raw != null || (forms == 1 && stringData == null)) {
                throw new WireFormatException(label + " is a STRING tensor; its data must be in string_data");
            }
            List<byte[]> strings = stringData == null ? List.of() : List.copyOf(stringData);
            if (strings.size() != count) {
                throw new WireFormatException(label + " " + shape + " needs " + count + " strings, found " + strings.size());
            }
            return new TensorValue(name, type, dims, count, TensorValue.Storage.TYPED, null, strings, null, docString,
                    unknown.build());
        }
        if (forms == 0) {
            // no data field at all: valid only for an empty tensor; TYPED re-serializes it without a data field
            if (expectedBytes != 0) {
                throw new WireFormatException(label + " " + shape + " needs " + expectedBytes + " bytes of data, found none");
            }
            return new TensorValue(name, type, dims, count, TensorValue.Storage.TYPED, ByteBuffer.allocate(0), null, null,
                    docString, unknown.build());
        }
        if (raw != null) {
            if (raw.remaining() != expectedBytes) {
                throw new WireFormatException(label + " " + shape + " needs " + expectedBytes + " bytes of data, found "
                        + raw.remaining() + " bytes of raw_data");
            }
            return new TensorValue(name, type, dims, count, TensorValue.Storage.RAW, raw, null, null, docString,
                    unknown.build());
        }
        ByteBuffer payload = typedPayload(label, type, count, floatData, doubleData, int32Data, int64Data, uint64Data, stringData);
        return new TensorValue(name, type, dims, count, TensorValue.Storage.TYPED, payload, null, null, docString,
                unknown.build());
    }

    /** Converts the typed repeated field that holds a tensor's data into {@code raw_data} layout. */
    private static ByteBuffer typedPayload(String label, DataType type, long count, FloatBytes floatData,
                                           FloatBytes doubleData, LongList int32Data, LongList int64Data,
                                           LongList uint64Data, List<byte[]> stringData) {
        String field;
        boolean ok;
        if (floatData != null) {
            field = "float_data";
            ok = type == DataType.FLOAT || type == DataType.COMPLEX64;
        } else if (doubleData != null) {
            field = "double_data";
            ok = type == DataType.DOUBLE || type == DataType.COMPLEX128;
        } else if (int32Data != null) {
            field = "int32_data";
            ok = int32Range(type) != null;
        } else if (int64Data != null) {
            field = "int64_data";
            ok = type == DataType.INT64;
        } else if (uint64Data != null) {
            field = "uint64_data";
            ok = type == DataType.UINT32 || type == DataType.UINT64;
        } else {
            field = "string_data";
            ok = false;
        }
        if (!ok) {
            throw new WireFormatException(label + " of type " + type + " has its data in " + field
                    + ", which does not hold " + type + " values");
        }
        long perValue = (type == DataType.COMPLEX64 || type == DataType.COMPLEX128) ? 2 : 1;
        long values = floatData != null ? floatData.size() / 4 : doubleData != null ? doubleData.size() / 8
                : int32Data != null ? int32Data.size() : int64Data != null ? int64Data.size() : uint64Data.size();
        if (values != count * perValue) {
            throw new WireFormatException(label + " of type " + type + " needs " + count * perValue + " values in "
                    + field + ", found " + values);
        }
        if (floatData != null) {
            return floatData.toBuffer();
        }
        if (doubleData != null) {
            return doubleData.toBuffer();
        }
        int width = type.bits() / 8;
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(count * width)).order(ByteOrder.LITTLE_ENDIAN);
        if (int64Data != null) {
            for (int k = 0; k < count; k++) {
                out.putLong(int64Data.get(k));
            }
        } else if (uint64Data != null) {
            for (int k = 0; k < count; k++) {
                long v = uint64Data.get(k);
                if (type == DataType.UINT32) {
                    if (v >>> 32 != 0) {
                        throw new WireFormatException(label + " value " + Long.toUnsignedString(v) + " at " + k
                                + " is out of range for UINT32");
                    }
                    out.putInt((int) v);
                } else {
                    out.putLong(v);
                }
            }
        } else {
            long[] range = int32Range(type);
            for (int k = 0; k < count; k++) {
                int v = (int) int32Data.get(k); // protobuf int32: the low 32 bits of the varint
                if (v < range[0] || v > range[1]) {
                    throw new WireFormatException(label + " value " + v + " at " + k + " is out of range for " + type);
                }
                switch (width) {
                    case 1 -> out.put((byte) v);
                    case 2 -> out.putShort((short) v);
                    default -> out.putInt(v);
                }
            }
        }
        out.flip();
        return out;
    }

    /** @return the accepted int32_data value range for a type stored there, or null if it is not */
    static long[] int32Range(DataType type) {
        return switch (type) {
            case INT32 -> new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE};
            case INT16 -> new long[] {Short.MIN_VALUE, Short.MAX_VALUE};
            case UINT16 -> new long[] {0, 0xffff};
            case INT8 -> new long[] {Byte.MIN_VALUE, Byte.MAX_VALUE};
            case UINT8, FLOAT8E4M3FN, FLOAT8E4M3FNUZ, FLOAT8E5M2, FLOAT8E5M2FNUZ, FLOAT8E8M0 -> new long[] {0, 0xff};
            case BOOL -> new long[] {0, 1};
            // 16-bit float bits: written zero-extended by ONNX's tools; sign-extended bits are accepted too
            case FLOAT16, BFLOAT16 -> new long[] {Short.MIN_VALUE, 0xffff};
            default -> null;
        };
    }

    private ExternalData external(String label, List<String[]> entries, DataType type, long expectedBytes) {
        if (type == DataType.STRING) {
            throw new WireFormatException(label + " is a STRING tensor, which cannot be stored as external data");
        }
        String location = null;
        long offset = 0;
        long length = -1;
        if (entries != null) {
            for (String[] kv : entries) {
                switch (kv[0]) {
                    case "location" -> location = kv[1];
                    case "offset" -> offset = externalNumber(label, "offset", kv[1]);
                    case "length" -> length = externalNumber(label, "length", kv[1]);
                    default -> {
                        // checksum and future keys carry nothing needed to read the data
                    }
                }
            }
        }
        if (location == null || location.isEmpty()) {
            throw new WireFormatException(label + " is marked as external data but has no location");
        }
        if (length >= 0 && length != expectedBytes) {
            throw new WireFormatException(label + " needs " + expectedBytes + " bytes, but its external data length is " + length);
        }
        length = expectedBytes;
        if (baseDir == null) {
            return new ExternalData(location, offset, length, null);
        }
        Path file = resolveInside(label, location);
        long size = fileSize(label, file);
        if (offset > size || length > size - offset) {
            throw new WireFormatException(label + " needs bytes [" + offset + ", " + (offset + length) + ") of external data file "
                    + file + ", which has only " + size + " bytes");
        }
        return new ExternalData(location, offset, length, file);
    }

    private static long externalNumber(String label, String key, String text) {
        if (text.isEmpty() || text.length() > 19 || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new WireFormatException(label + " has external data " + key + " \"" + text + "\"; expected a non-negative integer");
        }
        try {
            return Long.parseLong(text);
        } catch (NumberFormatException e) {
            throw new WireFormatException(label + " has external data " + key + " \"" + text + "\" out of range");
        }
    }

    /** Resolves a location against the model folder and refuses paths that leave it. */
    private Path resolveInside(String label, String location) {
        boolean absolute = location.startsWith("/") || location.startsWith("\\")
                || (location.length() > 1 && location.charAt(1) == ':');
        Path file;
        try {
            file = absolute ? null : baseDir.resolve(location).normalize();
        } catch (RuntimeException e) {
            file = null;
        }
        if (file == null || !file.startsWith(baseDir)) {
            throw new WireFormatException(label + " has external data location \"" + location
                    + "\"; it must be a relative path inside the model's folder " + baseDir);
        }
        return file;
    }

    private long fileSize(String label, Path file) {
        Long cached = fileSizes.get(file);
        if (cached != null) {
            return cached;
        }
        try {
            long size = Files.size(file);
            fileSizes.put(file, size);
            return size;
        } catch (NoSuchFileException e) {
            throw new WireFormatException(label + " is stored in external data file " + file + ", which is missing");
        } catch (IOException e) {
            throw new WireFormatException(label + ": cannot read external data file " + file + ": " + e);
        }
    }

    // ---------------------------------------------------------------- field helpers

    private static void wire(int tag, int expected, String field) {
        if ((tag & 7) != expected) {
            throw new WireFormatException("field " + (tag >>> 3) + " (" + field + ") has wire type " + (tag & 7)
                    + ", expected " + expected);
        }
    }

    private static long varint(ProtoReader r, int tag, String field) {
        wire(tag, ProtoReader.VARINT, field);
        return r.readVarint();
    }

    private static String string(ProtoReader r, int tag, String field) {
        wire(tag, ProtoReader.LEN, field);
        return r.readString();
    }

    private static ProtoReader message(ProtoReader r, int tag, String field) {
        wire(tag, ProtoReader.LEN, field);
        return r.readMessage();
    }

    /** Reads one repeated varint field occurrence, packed or not. */
    private static void readVarints(ProtoReader r, int tag, String field, LongList into) {
        if ((tag & 7) == ProtoReader.LEN) {
            ProtoReader packed = r.readMessage();
            while (packed.hasRemaining()) {
                into.add(packed.readVarint());
            }
        } else {
            wire(tag, ProtoReader.VARINT, field);
            into.add(r.readVarint());
        }
    }

    private static void readFixed32s(ProtoReader r, int tag, String field, FloatBytes into) {
        if ((tag & 7) == ProtoReader.LEN) {
            int start = r.position();
            int len = r.readLength();
            if (len % 4 != 0) {
                throw ProtoReader.error(start, "packed " + field + " has " + len + " bytes, not a multiple of 4");
            }
            into.append(r.buffer(), r.position(), len);
            r.skipBytes(len);
        } else {
            wire(tag, ProtoReader.FIXED32, field);
            int v = r.readFixed32();
            into.appendInt(v);
        }
    }

    private static void readFixed64s(ProtoReader r, int tag, String field, FloatBytes into) {
        if ((tag & 7) == ProtoReader.LEN) {
            int start = r.position();
            int len = r.readLength();
            if (len % 8 != 0) {
                throw ProtoReader.error(start, "packed " + field + " has " + len + " bytes, not a multiple of 8");
            }
            into.append(r.buffer(), r.position(), len);
            r.skipBytes(len);
        } else {
            wire(tag, ProtoReader.FIXED64, field);
            long v = r.readFixed64();
            into.appendInt((int) v);
            into.appendInt((int) (v >>> 32));
        }
    }

    private static void skipUnknown(ProtoReader r, int tag, UnknownFields.Collector unknown) {
        r.skip(tag & 7);
        unknown.add(r);
    }

    /** Runs a parse step and prefixes errors with where in the model it happened. */
    private static <T> T in(String where, Supplier<T> step) {
        try {
            return step.get();
        } catch (WireFormatException e) {
            throw new WireFormatException(where + ": " + e.getMessage());
        }
    }

    // ---------------------------------------------------------------- growable primitives

    /** A growable list of longs; it only grows as values are read, so its size is bounded by the input. */
    static final class LongList {
        private long[] values = new long[8];
        private int size;

        void add(long v) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = v;
        }

        long get(int i) {
            return values[i];
        }

        int size() {
            return size;
        }

        long[] toArray() {
            return Arrays.copyOf(values, size);
        }
    }

    /** Little-endian bytes of fixed-width values (floats or doubles), appended as read. */
    static final class FloatBytes {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        void append(byte[] buf, int offset, int len) {
            out.write(buf, offset, len);
        }

        void appendInt(int v) {
            out.write(v);
            out.write(v >>> 8);
            out.write(v >>> 16);
            out.write(v >>> 24);
        }

        int size() {
            return out.size();
        }

        ByteBuffer toBuffer() {
            return ByteBuffer.wrap(out.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        }

        float[] toFloatArray() {
            float[] f = new float[out.size() / 4];
            toBuffer().asFloatBuffer().get(f);
            return f;
        }
    }
}
