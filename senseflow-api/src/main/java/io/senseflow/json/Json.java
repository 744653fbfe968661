package io.senseflow.json;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.PrettyPrinter;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.exc.StreamReadException;
import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Strict JSON (RFC 8259) reading and writing for configs, provenance and model metadata, on Jackson's streaming
 * parser and generator (jackson-core); this class only fixes the value model, the strictness and the layout. Values
 * map to
 * {@code Map<String, Object>} (insertion-ordered), {@code List<Object>}, {@code String}, {@code Long} (integers
 * that fit), {@code BigInteger} (larger integers), {@code Double} (anything with a fraction or exponent),
 * {@code Boolean} and {@code null}. Duplicate keys, trailing commas, comments, NaN and nesting deeper than 256
 * are rejected. Output is deterministic: keys in insertion order, doubles in their shortest round-trip form.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class Json {
    private static final int MAX_DEPTH = 256;

    /**
     * Jackson's streaming factory in its strict defaults (no comments, single quotes, trailing commas, leading zeros,
     * NaN or unquoted names) plus duplicate-key detection; the limits are raised above Jackson's defaults because
     * a tokenizer.json is legitimately large. Thread-safe once configured.
     */
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .disable(StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION)
            .disable(JsonFactory.Feature.INTERN_FIELD_NAMES)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_DEPTH + 1)
                    .maxStringLength(Integer.MAX_VALUE)
                    .maxNameLength(1 << 20)
                    .build())
            .build();

    private Json() {
    }

    /**
     * @param text JSON text
     * @return the value
     * @throws JsonException with the offset of the problem
     */
    public static Object parse(String text) {
        try (JsonParser p = FACTORY.createParser(text)) {
            JsonToken first = p.nextToken();
            if (first == null) {
                throw at(p, "unexpected end of input");
            }
            Object v = value(p, first, 0);
            if (p.nextToken() != null) {
                throw at(p, "unexpected content after the value");
            }
            return v;
        } catch (StreamReadException | StreamConstraintsException e) {
            throw fromJackson(e);
        } catch (IOException e) {
            throw new JsonException("could not read the JSON text: " + e.getMessage());
        }
    }

    /**
     * @param text JSON text
     * @return the top-level object, wrapped for typed access
     * @throws JsonException if the text is not a JSON object
     */
    public static JsonObject parseObject(String text) {
        Object v = parse(text);
        if (!(v instanceof Map)) {
            throw new JsonException("expected a JSON object at the top level, got " + JsonObject.describe(v));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) v;
        return new JsonObject(m, "");
    }

    /**
     * Decodes UTF-8 strictly: malformed or truncated sequences are errors, not replacement characters.
     *
     * @param utf8 the bytes (position to limit; the buffer is not consumed)
     * @return the text
     * @throws JsonException if the bytes are not valid UTF-8
     */
    public static String decodeUtf8(java.nio.ByteBuffer utf8) {
        try {
            return java.nio.charset.StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                    .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                    .decode(utf8.duplicate()).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new JsonException("text is not valid UTF-8 (" + e + ")");
        }
    }

    /** @param value a parsed value @return its JSON kind for messages: object, array, string, number, boolean, null */
    public static String kind(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Map) {
            return "an object";
        }
        if (value instanceof List) {
            return "an array";
        }
        if (value instanceof String) {
            return "a string";
        }
        if (value instanceof Boolean) {
            return "a boolean";
        }
        return "a number";
    }

    /**
     * @param object a parsed JSON object
     * @return it, typed as the parser builds it
     */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> members(Map<?, ?> object) {
        return (Map<String, Object>) object;
    }

    /** @param value a JSON-mappable value @return compact JSON */
    public static String write(Object value) {
        return generate(value, null);
    }

    /** @param value a JSON-mappable value @return JSON indented by two spaces, with a trailing newline */
    public static String writePretty(Object value) {
        return generate(value, new Layout()) + "\n";
    }

    private static Object value(JsonParser p, JsonToken t, int depth) throws IOException {
        if (depth > MAX_DEPTH) {
            throw at(p, "nesting deeper than " + MAX_DEPTH);
        }
        switch (t) {
            case START_OBJECT: {
                Map<String, Object> m = new LinkedHashMap<>();
                for (JsonToken k = next(p); k != JsonToken.END_OBJECT; k = next(p)) {
                    String key = p.currentName();
                    m.put(key, value(p, next(p), depth + 1));
                }
                return m;
            }
            case START_ARRAY: {
                List<Object> l = new ArrayList<>();
                for (JsonToken e = next(p); e != JsonToken.END_ARRAY; e = next(p)) {
                    l.add(value(p, e, depth + 1));
                }
                return l;
            }
            case VALUE_STRING:
                return p.getText();
            case VALUE_NUMBER_INT: {
                if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                    BigInteger b = p.getBigIntegerValue();
                    return b.bitLength() < 64 ? (Object) b.longValue() : b;
                }
                return p.getLongValue();
            }
            case VALUE_NUMBER_FLOAT: {
                double d = p.getDoubleValue();
                if (!Double.isFinite(d)) {
                    throw at(p, "number out of range");
                }
                return d;
            }
            case VALUE_TRUE:
                return Boolean.TRUE;
            case VALUE_FALSE:
                return Boolean.FALSE;
            case VALUE_NULL:
                return null;
            default:
                throw at(p, "unexpected " + t);
        }
    }

    private static JsonToken next(JsonParser p) throws IOException {
        JsonToken t = p.nextToken();
        if (t == null) {
            throw at(p, "unexpected end of input");
        }
        return t;
    }

    private static JsonException at(JsonParser p, String what) {
        return new JsonException(what + where(p.currentLocation()));
    }

    private static String where(JsonLocation loc) {
        return loc == null || loc.getLineNr() < 0 ? "" : " at line " + loc.getLineNr() + ", column " + loc.getColumnNr();
    }

    /** Jackson's message without its source excerpt, in the facade's "what at line L, column C" form. */
    private static JsonException fromJackson(JsonProcessingException e) {
        String what = e.getOriginalMessage();
        if (e instanceof StreamConstraintsException && what.contains("nesting depth")) {
            what = "nesting deeper than " + MAX_DEPTH;
        } else if (what.startsWith("Duplicate Object property") || what.startsWith("Duplicate field")) {
            int q = what.indexOf('\'');
            int r = what.lastIndexOf('\'');
            what = q >= 0 && r > q ? "duplicate key \"" + what.substring(q + 1, r) + "\"" : "duplicate key (" + what + ")";
        }
        what = what.replaceAll("\\[Source: [^\\]]*?; line: (\\d+), column: (\\d+)\\]", "line $1, column $2")
                .replaceAll(": enable `[^`]*` to allow", " (not allowed in strict JSON)")
                .replaceAll(" \\(not recognized as one since Feature '[^']*' not enabled for parser\\)", "")
                .replaceAll("end-of-input(?=[A-Z])", "end-of-input: ");
        return new JsonException(what + where(e.getLocation()));
    }

    private static String generate(Object value, Layout layout) {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            if (layout != null) {
                g.setPrettyPrinter(layout);
            }
            emit(value, g, layout);
        } catch (IOException e) {
            throw new JsonException("could not write JSON: " + e.getMessage());
        }
        return out.toString();
    }

    private static void emit(Object v, JsonGenerator g, Layout layout) throws IOException {
        if (v == null) {
            g.writeNull();
        } else if (v instanceof String s) {
            g.writeString(s);
        } else if (v instanceof Boolean b) {
            g.writeBoolean(b);
        } else if (v instanceof Double || v instanceof Float) {
            g.writeNumber(formatReal((Number) v));
        } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            g.writeNumber(((Number) v).longValue());
        } else if (v instanceof BigInteger b) {
            g.writeNumber(b);
        } else if (v instanceof Number n) {
            g.writeNumber(n.toString());
        } else if (v instanceof JsonObject o) {
            emit(o.asMap(), g, layout);
        } else if (v instanceof Map<?, ?> m) {
            g.writeStartObject();
            for (Map.Entry<?, ?> e : m.entrySet()) {
                g.writeFieldName(String.valueOf(e.getKey()));
                emit(e.getValue(), g, layout);
            }
            g.writeEndObject();
        } else if (v instanceof List<?> l) {
            if (layout != null) {
                layout.nextArrayInline(l.stream().noneMatch(x -> x instanceof Map || x instanceof List
                        || x instanceof JsonObject));
            }
            g.writeStartArray();
            for (Object x : l) {
                emit(x, g, layout);
            }
            g.writeEndArray();
        } else if (v instanceof double[] a) {
            List<Object> l = new ArrayList<>();
            for (double d : a) {
                l.add(d);
            }
            emit(l, g, layout);
        } else if (v instanceof long[] a) {
            List<Object> l = new ArrayList<>();
            for (long d : a) {
                l.add(d);
            }
            emit(l, g, layout);
        } else if (v instanceof int[] a) {
            List<Object> l = new ArrayList<>();
            for (int d : a) {
                l.add((long) d);
            }
            emit(l, g, layout);
        } else {
            throw new JsonException("cannot write a " + v.getClass().getName() + " as JSON");
        }
    }

    /** Integral reals as {@code 3.0} below 1e15, otherwise Java's shortest round-trip form. */
    private static String formatReal(Number v) {
        double d = v.doubleValue();
        if (!Double.isFinite(d)) {
            throw new JsonException("cannot write " + d + ": JSON has no NaN or infinity");
        }
        if (d == Math.rint(d) && Math.abs(d) < 1e15) {
            return (long) d + ".0";
        }
        return v instanceof Float f ? Float.toString(f) : Double.toString(d);
    }

    /**
     * The pretty layout: two-space indent, {@code "key": value}, arrays of scalars on one line ({@code [1, 2]}),
     * arrays holding objects or arrays one element per line. One instance per write (it tracks the nesting).
     */
    private static final class Layout implements PrettyPrinter {
        private final Deque<Boolean> inline = new ArrayDeque<>();
        private boolean nextInline;
        private int level;

        void nextArrayInline(boolean scalars) {
            nextInline = scalars;
        }

        private void newline(JsonGenerator g) throws IOException {
            g.writeRaw('\n');
            g.writeRaw(" ".repeat(2 * level));
        }

        @Override
        public void writeRootValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw('\n');
        }

        @Override
        public void writeStartObject(JsonGenerator g) throws IOException {
            g.writeRaw('{');
            level++;
        }

        @Override
        public void beforeObjectEntries(JsonGenerator g) throws IOException {
            newline(g);
        }

        @Override
        public void writeObjectFieldValueSeparator(JsonGenerator g) throws IOException {
            g.writeRaw(": ");
        }

        @Override
        public void writeObjectEntrySeparator(JsonGenerator g) throws IOException {
            g.writeRaw(',');
            newline(g);
        }

        @Override
        public void writeEndObject(JsonGenerator g, int entries) throws IOException {
            level--;
            if (entries > 0) {
                newline(g);
            }
            g.writeRaw('}');
        }

        @Override
        public void writeStartArray(JsonGenerator g) throws IOException {
            inline.push(nextInline);
            g.writeRaw('[');
            level++;
        }

        @Override
        public void beforeArrayValues(JsonGenerator g) throws IOException {
            if (!inline.peek()) {
                newline(g);
            }
        }

        @Override
        public void writeArrayValueSeparator(JsonGenerator g) throws IOException {
            if (inline.peek()) {
                g.writeRaw(", ");
            } else {
                g.writeRaw(',');
                newline(g);
            }
        }

        @Override
        public void writeEndArray(JsonGenerator g, int values) throws IOException {
            level--;
            if (!inline.pop() && values > 0) {
                newline(g);
            }
            g.writeRaw(']');
        }
    }
}
