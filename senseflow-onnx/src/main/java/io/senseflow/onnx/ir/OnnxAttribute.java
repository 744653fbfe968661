package io.senseflow.onnx.ir;

import io.senseflow.InvalidRequestException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * An immutable node attribute ({@code AttributeProto}): a name, a type and one value of that type. Create them
 * with the {@code of...} factories and read them with the typed accessors, which check the type.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class OnnxAttribute {
    private final String name;
    private final AttributeType type;
    private final Object value;
    private final String docString;
    private final UnknownFields unknownFields;

    OnnxAttribute(String name, AttributeType type, Object value, String docString, UnknownFields unknownFields) {
        this.name = Objects.requireNonNull(name, "name");
        this.type = Objects.requireNonNull(type, "type");
        this.value = value;
        this.docString = Objects.requireNonNull(docString, "docString");
        this.unknownFields = Objects.requireNonNull(unknownFields, "unknownFields");
    }

    private static OnnxAttribute of(String name, AttributeType type, Object value) {
        if (name == null || name.isEmpty()) {
            throw new InvalidRequestException("attribute name: expected a non-empty name, got " + (name == null ? "null" : "\"\""));
        }
        return new OnnxAttribute(name, type, Objects.requireNonNull(value, "value"), "", UnknownFields.EMPTY);
    }

    /** @param name attribute name @param value the value @return a FLOAT attribute */
    public static OnnxAttribute ofFloat(String name, float value) {
        return of(name, AttributeType.FLOAT, value);
    }

    /** @param name attribute name @param value the value @return an INT attribute */
    public static OnnxAttribute ofInt(String name, long value) {
        return of(name, AttributeType.INT, value);
    }

    /** @param name attribute name @param value the value, stored as UTF-8 @return a STRING attribute */
    public static OnnxAttribute ofString(String name, String value) {
        return of(name, AttributeType.STRING, value.getBytes(StandardCharsets.UTF_8));
    }

    /** @param name attribute name @param value raw bytes @return a STRING attribute */
    public static OnnxAttribute ofBytes(String name, byte[] value) {
        return of(name, AttributeType.STRING, value.clone());
    }

    /** @param name attribute name @param value the tensor @return a TENSOR attribute */
    public static OnnxAttribute ofTensor(String name, TensorValue value) {
        return of(name, AttributeType.TENSOR, value);
    }

    /** @param name attribute name @param value the subgraph @return a GRAPH attribute */
    public static OnnxAttribute ofGraph(String name, OnnxGraph value) {
        return of(name, AttributeType.GRAPH, value);
    }

    /** @param name attribute name @param values the values @return a FLOATS attribute */
    public static OnnxAttribute ofFloats(String name, float... values) {
        return of(name, AttributeType.FLOATS, values.clone());
    }

    /** @param name attribute name @param values the values @return an INTS attribute */
    public static OnnxAttribute ofInts(String name, long... values) {
        return of(name, AttributeType.INTS, values.clone());
    }

    /** @param name attribute name @param values the values, stored as UTF-8 @return a STRINGS attribute */
    public static OnnxAttribute ofStrings(String name, List<String> values) {
        List<byte[]> bytes = new ArrayList<>(values.size());
        for (String v : values) {
            bytes.add(v.getBytes(StandardCharsets.UTF_8));
        }
        return of(name, AttributeType.STRINGS, List.copyOf(bytes));
    }

    /** @param name attribute name @param values the tensors @return a TENSORS attribute */
    public static OnnxAttribute ofTensors(String name, List<TensorValue> values) {
        return of(name, AttributeType.TENSORS, List.copyOf(values));
    }

    /** @param name attribute name @param values the subgraphs @return a GRAPHS attribute */
    public static OnnxAttribute ofGraphs(String name, List<OnnxGraph> values) {
        return of(name, AttributeType.GRAPHS, List.copyOf(values));
    }

    /** @return the attribute name */
    public String name() {
        return name;
    }

    /** @return the value type */
    public AttributeType type() {
        return type;
    }

    /** @return documentation, empty when absent */
    public String docString() {
        return docString;
    }

    /** @return fields this SDK does not model (for example a sparse tensor value) */
    public UnknownFields unknownFields() {
        return unknownFields;
    }

    /** @return the value of a FLOAT attribute */
    public float floatValue() {
        return (Float) expect(AttributeType.FLOAT);
    }

    /** @return the value of an INT attribute */
    public long intValue() {
        return (Long) expect(AttributeType.INT);
    }

    /** @return the value of a STRING attribute, decoded as UTF-8 */
    public String stringValue() {
        return new String((byte[]) expect(AttributeType.STRING), StandardCharsets.UTF_8);
    }

    /** @return a copy of the raw bytes of a STRING attribute */
    public byte[] bytesValue() {
        return ((byte[]) expect(AttributeType.STRING)).clone();
    }

    /** @return the value of a TENSOR attribute */
    public TensorValue tensorValue() {
        return (TensorValue) expect(AttributeType.TENSOR);
    }

    /** @return the value of a GRAPH attribute */
    public OnnxGraph graphValue() {
        return (OnnxGraph) expect(AttributeType.GRAPH);
    }

    /** @return a copy of the values of a FLOATS attribute */
    public float[] floats() {
        return ((float[]) expect(AttributeType.FLOATS)).clone();
    }

    /** @return a copy of the values of an INTS attribute */
    public long[] ints() {
        return ((long[]) expect(AttributeType.INTS)).clone();
    }

    /** @return the values of a STRINGS attribute, decoded as UTF-8 */
    public List<String> strings() {
        List<String> out = new ArrayList<>();
        for (byte[] b : rawStrings()) {
            out.add(new String(b, StandardCharsets.UTF_8));
        }
        return out;
    }

    /** @return the values of a TENSORS attribute */
    @SuppressWarnings("unchecked")
    public List<TensorValue> tensors() {
        return (List<TensorValue>) expect(AttributeType.TENSORS);
    }

    /** @return the values of a GRAPHS attribute */
    @SuppressWarnings("unchecked")
    public List<OnnxGraph> graphs() {
        return (List<OnnxGraph>) expect(AttributeType.GRAPHS);
    }

    @SuppressWarnings("unchecked")
    List<byte[]> rawStrings() {
        return (List<byte[]>) expect(AttributeType.STRINGS);
    }

    /** The stored value object, shared; for the codec. */
    Object rawValue() {
        return value;
    }

    private Object expect(AttributeType wanted) {
        if (type != wanted) {
            throw new InvalidRequestException("attribute " + name + " is " + type + ", not " + wanted);
        }
        return value;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof OnnxAttribute a)) {
            return false;
        }
        return name.equals(a.name) && type == a.type && docString.equals(a.docString)
                && unknownFields.equals(a.unknownFields) && valueEquals(value, a.value);
    }

    private static boolean valueEquals(Object x, Object y) {
        if (x instanceof Float f && y instanceof Float g) {
            return Float.floatToRawIntBits(f) == Float.floatToRawIntBits(g);
        }
        if (x instanceof byte[] a && y instanceof byte[] b) {
            return Arrays.equals(a, b);
        }
        if (x instanceof float[] a && y instanceof float[] b) {
            return Arrays.equals(a, b);
        }
        if (x instanceof long[] a && y instanceof long[] b) {
            return Arrays.equals(a, b);
        }
        if (x instanceof List<?> a && y instanceof List<?> b) {
            if (a.size() != b.size()) {
                return false;
            }
            for (int i = 0; i < a.size(); i++) {
                if (!valueEquals(a.get(i), b.get(i))) {
                    return false;
                }
            }
            return true;
        }
        return Objects.equals(x, y);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, type);
    }

    @Override
    public String toString() {
        String v;
        if (value == null) {
            v = "(not modelled)";
        } else if (value instanceof byte[] b) {
            v = '"' + new String(b, StandardCharsets.UTF_8) + '"';
        } else if (value instanceof float[] f) {
            v = Arrays.toString(f);
        } else if (value instanceof long[] l) {
            v = Arrays.toString(l);
        } else if (value instanceof OnnxGraph g) {
            v = "graph " + g.name();
        } else if (type == AttributeType.STRINGS) {
            v = strings().toString();
        } else {
            v = String.valueOf(value);
        }
        return name + "=" + v;
    }
}
