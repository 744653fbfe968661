package io.senseflow.onnx.ir;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * Encodes the IR as a {@code ModelProto}. Fields are written in field-number order, as protobuf's own serializers
 * do, followed by the unknown fields kept from reading. Repeated {@code dims}, {@code ints} and {@code floats} are
 * written unpacked and the typed tensor data packed, matching ONNX's reference (proto2) encoding; the reader
 * accepts either.
 */
final class ModelEncoder {
    private final Map<TensorValue, ExternalData> placements;

    /** @param placements tensors (by identity) that go to the external data file, with their place there */
    ModelEncoder(Map<TensorValue, ExternalData> placements) {
        this.placements = placements;
    }

    ProtoWriter model(OnnxModel m) {
        ProtoWriter w = new ProtoWriter();
        if (m.irVersion() != 0) {
            w.varintField(1, m.irVersion());
        }
        w.stringFieldIfSet(2, m.producerName());
        w.stringFieldIfSet(3, m.producerVersion());
        w.stringFieldIfSet(4, m.domain());
        if (m.modelVersion() != 0) {
            w.varintField(5, m.modelVersion());
        }
        w.stringFieldIfSet(6, m.docString());
        w.messageField(7, graph(m.graph()));
        for (OpsetImport o : m.opsetImports()) {
            ProtoWriter ow = new ProtoWriter();
            ow.stringFieldIfSet(1, o.domain());
            ow.varintField(2, o.version());
            w.messageField(8, ow);
        }
        for (Map.Entry<String, String> e : m.metadata().entrySet()) {
            w.messageField(14, entry(e.getKey(), e.getValue()));
        }
        w.raw(m.unknownFields().bytes());
        return w;
    }

    private static ProtoWriter entry(String key, String value) {
        ProtoWriter w = new ProtoWriter();
        w.stringFieldIfSet(1, key);
        w.stringFieldIfSet(2, value);
        return w;
    }

    private ProtoWriter graph(OnnxGraph g) {
        ProtoWriter w = new ProtoWriter();
        for (OnnxNode n : g.nodes()) {
            w.messageField(1, node(n));
        }
        w.stringFieldIfSet(2, g.name());
        for (TensorValue t : g.initializers()) {
            w.messageField(5, tensor(t));
        }
        w.stringFieldIfSet(10, g.docString());
        for (ValueInfo v : g.inputs()) {
            w.messageField(11, valueInfo(v));
        }
        for (ValueInfo v : g.outputs()) {
            w.messageField(12, valueInfo(v));
        }
        for (ValueInfo v : g.valueInfo()) {
            w.messageField(13, valueInfo(v));
        }
        w.raw(g.unknownFields().bytes());
        return w;
    }

    private ProtoWriter node(OnnxNode n) {
        ProtoWriter w = new ProtoWriter();
        for (String in : n.inputs()) {
            w.stringField(1, in); // empty names are positional placeholders and must stay
        }
        for (String out : n.outputs()) {
            w.stringField(2, out);
        }
        w.stringFieldIfSet(3, n.name());
        w.stringField(4, n.opType());
        for (OnnxAttribute a : n.attributes()) {
            w.messageField(5, attribute(a));
        }
        w.stringFieldIfSet(6, n.docString());
        w.stringFieldIfSet(7, n.domain());
        w.raw(n.unknownFields().bytes());
        return w;
    }

    @SuppressWarnings("unchecked")
    private ProtoWriter attribute(OnnxAttribute a) {
        ProtoWriter w = new ProtoWriter();
        w.stringField(1, a.name());
        Object v = a.rawValue();
        switch (a.type()) {
            case FLOAT -> w.fixed32Field(2, Float.floatToRawIntBits((Float) v));
            case INT -> w.varintField(3, (Long) v);
            case STRING -> w.bytesField(4, (byte[]) v);
            case TENSOR -> w.messageField(5, tensor((TensorValue) v));
            case GRAPH -> w.messageField(6, graph((OnnxGraph) v));
            case FLOATS -> {
                for (float f : (float[]) v) {
                    w.fixed32Field(7, Float.floatToRawIntBits(f));
                }
            }
            case INTS -> {
                for (long i : (long[]) v) {
                    w.varintField(8, i);
                }
            }
            case STRINGS -> {
                for (byte[] s : (List<byte[]>) v) {
                    w.bytesField(9, s);
                }
            }
            case TENSORS -> {
                for (TensorValue t : (List<TensorValue>) v) {
                    w.messageField(10, tensor(t));
                }
            }
            case GRAPHS -> {
                for (OnnxGraph g : (List<OnnxGraph>) v) {
                    w.messageField(11, graph(g));
                }
            }
            default -> {
                // sparse tensors and type protos live in the unknown fields
            }
        }
        w.stringFieldIfSet(13, a.docString());
        w.varintField(20, a.type().code());
        w.raw(a.unknownFields().bytes());
        return w;
    }

    private static ProtoWriter valueInfo(ValueInfo v) {
        ProtoWriter w = new ProtoWriter();
        w.stringFieldIfSet(1, v.name());
        boolean tensorType = v.elementType() != DataType.UNDEFINED || v.shape() != null;
        if (tensorType || !v.typeExtras().isEmpty()) {
            ProtoWriter type = new ProtoWriter();
            if (tensorType) {
                ProtoWriter tt = new ProtoWriter();
                if (v.elementType() != DataType.UNDEFINED) {
                    tt.varintField(1, v.elementType().code());
                }
                if (v.shape() != null) {
                    ProtoWriter shape = new ProtoWriter();
                    for (Dim d : v.shape()) {
                        ProtoWriter dw = new ProtoWriter();
                        if (d instanceof Dim.Fixed f) {
                            dw.varintField(1, f.value());
                        } else if (d instanceof Dim.Symbolic s) {
                            dw.stringField(2, s.name());
                        }
                        shape.messageField(1, dw);
                    }
                    tt.messageField(2, shape);
                }
                type.messageField(1, tt);
            }
            type.raw(v.typeExtras().bytes());
            w.messageField(2, type);
        }
        w.stringFieldIfSet(3, v.docString());
        w.raw(v.unknownFields().bytes());
        return w;
    }

    private ProtoWriter tensor(TensorValue t) {
        ProtoWriter w = new ProtoWriter();
        for (long d : t.dims()) {
            w.varintField(1, d);
        }
        DataType type = t.dataType();
        w.varintField(2, type.code());
        ExternalData placed = placements.get(t);
        // TYPED with no elements writes no data field at all; RAW always writes raw_data, even when empty, as
        // ONNX's tools do (proto2 presence), so both forms re-serialize byte for byte
        boolean typed = placed == null && t.storage() == TensorValue.Storage.TYPED;
        boolean raw = placed == null && !typed;
        ByteBuffer payload = type == DataType.STRING || placed != null ? null : t.bytes();
        if (typed && t.elementCount() > 0) {
            switch (type) {
                case FLOAT, COMPLEX64 -> w.bytesField(4, payload);
                case STRING -> {
                    for (byte[] s : t.rawStrings()) {
                        w.bytesField(6, s);
                    }
                }
                case INT64 -> w.messageField(7, packedVarints(payload, type));
                case DOUBLE, COMPLEX128, UINT32, UINT64 -> {
                    // field 10 or 11: written after name and raw_data below
                }
                default -> w.messageField(5, packedVarints(payload, type));
            }
        }
        w.stringFieldIfSet(8, t.name());
        if (raw) {
            w.bytesField(9, payload);
        }
        if (typed && t.elementCount() > 0) {
            switch (type) {
                case DOUBLE, COMPLEX128 -> w.bytesField(10, payload);
                case UINT32, UINT64 -> w.messageField(11, packedVarints(payload, type));
                default -> {
                    // written above
                }
            }
        }
        w.stringFieldIfSet(12, t.docString());
        if (placed != null) {
            w.messageField(13, entry("location", placed.location()));
            w.messageField(13, entry("offset", Long.toString(placed.offset())));
            w.messageField(13, entry("length", Long.toString(placed.length())));
            w.varintField(14, 1);
        }
        w.raw(t.unknownFields().bytes());
        return w;
    }

    /** Encodes elements as the packed varints of int32_data, int64_data or uint64_data. */
    private static ProtoWriter packedVarints(ByteBuffer b, DataType type) {
        ProtoWriter p = new ProtoWriter();
        int n = b.remaining();
        switch (type) {
            case INT64, UINT64 -> {
                for (int i = 0; i < n; i += 8) {
                    p.varint(b.getLong(i));
                }
            }
            case INT32 -> {
                for (int i = 0; i < n; i += 4) {
                    p.varint(b.getInt(i));
                }
            }
            case UINT32 -> {
                for (int i = 0; i < n; i += 4) {
                    p.varint(b.getInt(i) & 0xffffffffL);
                }
            }
            case INT16 -> {
                for (int i = 0; i < n; i += 2) {
                    p.varint(b.getShort(i));
                }
            }
            case UINT16, FLOAT16, BFLOAT16 -> {
                for (int i = 0; i < n; i += 2) {
                    p.varint(b.getShort(i) & 0xffff);
                }
            }
            case INT8 -> {
                for (int i = 0; i < n; i++) {
                    p.varint(b.get(i));
                }
            }
            default -> {
                for (int i = 0; i < n; i++) {
                    p.varint(b.get(i) & 0xff);
                }
            }
        }
        return p;
    }
}
