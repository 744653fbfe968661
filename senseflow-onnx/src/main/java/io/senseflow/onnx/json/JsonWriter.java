package io.senseflow.onnx.json;

import java.util.Iterator;
import java.util.Map;

/**
 * Writes JSON text deterministically: object members in their stored order, strings escaped minimally (quote,
 * backslash and control characters; everything else, including non-ASCII, as is), numbers as their literal text.
 */
public final class JsonWriter {
    private JsonWriter() {
    }

    /** @param value a value @return compact JSON text */
    public static String compact(JsonValue value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, -1, 0);
        return sb.toString();
    }

    /** @param value a value @return JSON text indented by two spaces per level */
    public static String pretty(JsonValue value) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, 2, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, JsonValue value, int indent, int level) {
        if (value instanceof JsonObject o) {
            if (o.size() == 0) {
                sb.append("{}");
                return;
            }
            sb.append('{');
            Iterator<Map.Entry<String, JsonValue>> it = o.members().entrySet().iterator();
            while (it.hasNext()) {
                Map.Entry<String, JsonValue> e = it.next();
                newline(sb, indent, level + 1);
                quote(sb, e.getKey());
                sb.append(indent < 0 ? ":" : ": ");
                write(sb, e.getValue(), indent, level + 1);
                if (it.hasNext()) {
                    sb.append(',');
                }
            }
            newline(sb, indent, level);
            sb.append('}');
        } else if (value instanceof JsonArray a) {
            if (a.size() == 0) {
                sb.append("[]");
                return;
            }
            sb.append('[');
            for (int i = 0; i < a.size(); i++) {
                newline(sb, indent, level + 1);
                write(sb, a.get(i), indent, level + 1);
                if (i + 1 < a.size()) {
                    sb.append(',');
                }
            }
            newline(sb, indent, level);
            sb.append(']');
        } else if (value instanceof JsonString s) {
            quote(sb, s.value());
        } else if (value instanceof JsonNumber n) {
            sb.append(n.text());
        } else {
            sb.append(value.toString()); // true, false, null
        }
    }

    private static void newline(StringBuilder sb, int indent, int level) {
        if (indent >= 0) {
            sb.append('\n');
            sb.append(" ".repeat(indent * level));
        }
    }

    /**
     * Appends a string literal.
     *
     * @param sb the destination
     * @param s the content
     */
    static void quote(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        sb.append('"');
    }
}
