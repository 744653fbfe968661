package io.senseflow.onnx.json;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * A strict JSON reader (RFC 8259) and the entry point to {@link JsonWriter}.
 *
 * <p>Strict means: exactly one value surrounded by optional whitespace; no comments, trailing commas, single
 * quotes, leading zeros, {@code NaN} or bare control characters; escapes must be valid and {@code \u005Cu}
 * surrogates must pair up; object member names must be unique. Input bytes must be valid UTF-8. Nesting is
 * limited to {@value #MAX_DEPTH} levels so hostile input cannot exhaust the stack. Errors give the line and
 * column.
 */
public final class Json {
    /** The deepest nesting of arrays and objects accepted. */
    public static final int MAX_DEPTH = 128;

    private final String text;
    private int pos;
    private int depth;

    private Json(String text) {
        this.text = text;
    }

    /**
     * @param text JSON text
     * @return the value
     * @throws JsonException if the text is not exactly one valid JSON value
     */
    public static JsonValue parse(String text) {
        Json p = new Json(text);
        p.skipWhitespace();
        JsonValue v = p.value();
        p.skipWhitespace();
        if (p.pos != text.length()) {
            throw p.error("unexpected " + p.describeHere() + " after the JSON value");
        }
        return v;
    }

    /**
     * @param utf8 JSON text encoded as UTF-8
     * @return the value
     * @throws JsonException if the bytes are not valid UTF-8 or not exactly one valid JSON value
     */
    public static JsonValue parse(byte[] utf8) {
        return parse(decodeUtf8(ByteBuffer.wrap(utf8)));
    }

    /**
     * Decodes UTF-8 strictly (malformed or truncated sequences are errors, not replacement characters).
     *
     * @param utf8 the bytes (position to limit)
     * @return the text
     * @throws JsonException if the bytes are not valid UTF-8
     */
    public static String decodeUtf8(ByteBuffer utf8) {
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(utf8.duplicate());
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw new JsonException("text is not valid UTF-8 (" + e.getMessage() + ")");
        }
    }

    /** @param value a value @return compact JSON text (no whitespace) */
    public static String write(JsonValue value) {
        return JsonWriter.compact(value);
    }

    /** @param value a value @return JSON text indented by two spaces, ending without a newline */
    public static String writePretty(JsonValue value) {
        return JsonWriter.pretty(value);
    }

    // ---------------------------------------------------------------- grammar

    private JsonValue value() {
        if (pos >= text.length()) {
            throw error("unexpected end of input, expected a value");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return new JsonString(string());
            case 't':
                literal("true");
                return JsonBoolean.TRUE;
            case 'f':
                literal("false");
                return JsonBoolean.FALSE;
            case 'n':
                literal("null");
                return JsonNull.INSTANCE;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("unexpected " + describeHere() + ", expected a value");
        }
    }

    private JsonObject object() {
        enter();
        pos++; // {
        LinkedHashMap<String, JsonValue> members = new LinkedHashMap<>();
        skipWhitespace();
        if (peek() == '}') {
            pos++;
            depth--;
            return toObject(members);
        }
        while (true) {
            skipWhitespace();
            if (peek() != '"') {
                throw error("unexpected " + describeHere() + ", expected a member name in double quotes");
            }
            int nameAt = pos;
            String name = string();
            skipWhitespace();
            expect(':');
            skipWhitespace();
            JsonValue v = value();
            if (members.putIfAbsent(name, v) != null) {
                pos = nameAt;
                throw error("duplicate member name \"" + name + "\"");
            }
            skipWhitespace();
            char c = peek();
            if (c == ',') {
                pos++;
            } else if (c == '}') {
                pos++;
                depth--;
                return toObject(members);
            } else {
                throw error("unexpected " + describeHere() + ", expected ',' or '}'");
            }
        }
    }

    private static JsonObject toObject(LinkedHashMap<String, JsonValue> members) {
        JsonObject.Builder b = JsonObject.builder();
        members.forEach(b::put);
        return b.build();
    }

    private JsonArray array() {
        enter();
        pos++; // [
        List<JsonValue> values = new ArrayList<>();
        skipWhitespace();
        if (peek() == ']') {
            pos++;
            depth--;
            return JsonArray.of(values);
        }
        while (true) {
            skipWhitespace();
            values.add(value());
            skipWhitespace();
            char c = peek();
            if (c == ',') {
                pos++;
            } else if (c == ']') {
                pos++;
                depth--;
                return JsonArray.of(values);
            } else {
                throw error("unexpected " + describeHere() + ", expected ',' or ']'");
            }
        }
    }

    private String string() {
        pos++; // opening quote
        StringBuilder sb = null;
        int runStart = pos;
        while (true) {
            if (pos >= text.length()) {
                throw error("unterminated string");
            }
            char c = text.charAt(pos);
            if (c == '"') {
                String s = sb == null ? text.substring(runStart, pos) : sb.append(text, runStart, pos).toString();
                pos++;
                return s;
            }
            if (c < 0x20) {
                throw error("control character U+" + String.format("%04X", (int) c) + " must be escaped in a string");
            }
            if (Character.isSurrogate(c)) {
                // the UTF-8 decoder guarantees pairs; a String handed in directly may not
                if (!Character.isHighSurrogate(c) || pos + 1 >= text.length() || !Character.isLowSurrogate(text.charAt(pos + 1))) {
                    throw error("unpaired surrogate in string");
                }
                pos += 2;
                continue;
            }
            if (c != '\\') {
                pos++;
                continue;
            }
            if (sb == null) {
                sb = new StringBuilder();
            }
            sb.append(text, runStart, pos);
            pos++;
            if (pos >= text.length()) {
                throw error("unterminated escape");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"' -> sb.append('"');
                case '\\' -> sb.append('\\');
                case '/' -> sb.append('/');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    char u = hex4();
                    if (Character.isHighSurrogate(u)) {
                        if (!text.startsWith("\\u", pos)) {
                            throw error("high surrogate \\u" + String.format("%04X", (int) u) + " is not followed by a low surrogate");
                        }
                        pos += 2;
                        char low = hex4();
                        if (!Character.isLowSurrogate(low)) {
                            throw error("high surrogate \\u" + String.format("%04X", (int) u) + " is not followed by a low surrogate");
                        }
                        sb.append(u).append(low);
                    } else if (Character.isLowSurrogate(u)) {
                        throw error("unpaired low surrogate \\u" + String.format("%04X", (int) u));
                    } else {
                        sb.append(u);
                    }
                }
                default -> {
                    pos--;
                    throw error("invalid escape \\" + printable(e));
                }
            }
            runStart = pos;
        }
    }

    private char hex4() {
        if (pos + 4 > text.length()) {
            throw error("truncated \\u escape");
        }
        int v = 0;
        for (int i = 0; i < 4; i++) {
            int d = hexValue(text.charAt(pos + i));
            if (d < 0) {
                pos += i;
                throw error("invalid hex digit " + printable(text.charAt(pos)) + " in \\u escape");
            }
            v = v * 16 + d;
        }
        pos += 4;
        return (char) v;
    }

    private static int hexValue(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    private JsonNumber number() {
        int start = pos;
        if (peek() == '-') {
            pos++;
        }
        if (peek() == '0') {
            pos++;
            if (isDigit(peek())) {
                throw error("leading zeros are not allowed in numbers");
            }
        } else if (isDigit(peek())) {
            digits();
        } else {
            throw error("expected a digit after '-'");
        }
        if (peek() == '.') {
            pos++;
            if (!isDigit(peek())) {
                throw error("expected a digit after the decimal point");
            }
            digits();
        }
        if (peek() == 'e' || peek() == 'E') {
            pos++;
            if (peek() == '+' || peek() == '-') {
                pos++;
            }
            if (!isDigit(peek())) {
                throw error("expected a digit in the exponent");
            }
            digits();
        }
        return new JsonNumber(text.substring(start, pos));
    }

    private void digits() {
        while (isDigit(peek())) {
            pos++;
        }
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private void literal(String word) {
        if (!text.startsWith(word, pos)) {
            throw error("unexpected " + describeHere() + ", expected a value");
        }
        pos += word.length();
    }

    private void expect(char c) {
        if (peek() != c) {
            throw error("unexpected " + describeHere() + ", expected '" + c + "'");
        }
        pos++;
    }

    private void enter() {
        if (++depth > MAX_DEPTH) {
            throw error("nesting deeper than " + MAX_DEPTH + " levels");
        }
    }

    /** @return the character at the cursor, or U+0000 at the end (never valid where a token is expected) */
    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private void skipWhitespace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private String describeHere() {
        return pos >= text.length() ? "end of input" : "character " + printable(text.charAt(pos));
    }

    private static String printable(char c) {
        return c >= 0x20 && c < 0x7f ? "'" + c + "'" : String.format("U+%04X", (int) c);
    }

    private JsonException error(String message) {
        int line = 1;
        int col = 1;
        for (int i = 0; i < Math.min(pos, text.length()); i++) {
            if (text.charAt(i) == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return new JsonException("invalid JSON at line " + line + ", column " + col + ": " + message);
    }
}
