package io.senseflow.onnx.json;

import java.util.Objects;

/**
 * A JSON string.
 *
 * @param value the content, never null
 */
public record JsonString(String value) implements JsonValue {
    /** Checks the content is not null. */
    public JsonString {
        Objects.requireNonNull(value, "value");
    }

    @Override
    public String kind() {
        return "string";
    }

    @Override
    public String asString() {
        return value;
    }

    @Override
    public String toString() {
        return JsonWriter.compact(this);
    }
}
