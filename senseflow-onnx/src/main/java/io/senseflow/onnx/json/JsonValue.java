package io.senseflow.onnx.json;

/**
 * One JSON value: an object, array, string, number, boolean or null. Values are immutable.
 *
 * <p>The {@code as...} accessors check the kind and throw {@link JsonException} naming the kind found, so code
 * that reads configuration files can ask for what it expects and get a useful message otherwise.
 */
public sealed interface JsonValue permits JsonObject, JsonArray, JsonString, JsonNumber, JsonBoolean, JsonNull {

    /** @return the kind of this value: "object", "array", "string", "number", "boolean" or "null" */
    String kind();

    /** @return this value as an object @throws JsonException if it is not one */
    default JsonObject asObject() {
        throw wrongKind("an object");
    }

    /** @return this value as an array @throws JsonException if it is not one */
    default JsonArray asArray() {
        throw wrongKind("an array");
    }

    /** @return the string content @throws JsonException if this is not a string */
    default String asString() {
        throw wrongKind("a string");
    }

    /** @return this value as a number @throws JsonException if it is not one */
    default JsonNumber asNumber() {
        throw wrongKind("a number");
    }

    /** @return the number as an exact {@code long} @throws JsonException if not an integer in range */
    default long asLong() {
        return asNumber().longValueExact();
    }

    /** @return the number as a {@code double} @throws JsonException if this is not a number */
    default double asDouble() {
        return asNumber().doubleValue();
    }

    /** @return the boolean @throws JsonException if this is not a boolean */
    default boolean asBoolean() {
        throw wrongKind("a boolean");
    }

    /** @return whether this is the JSON {@code null} */
    default boolean isNull() {
        return false;
    }

    private JsonException wrongKind(String expected) {
        return new JsonException("expected " + expected + ", got " + describe(this));
    }

    /**
     * A short description of a value for messages: its kind, and for scalars the value itself.
     *
     * @param value the value
     * @return e.g. {@code string "F32"} or {@code array of 3}
     */
    static String describe(JsonValue value) {
        if (value instanceof JsonObject o) {
            return "object of " + o.size();
        }
        if (value instanceof JsonArray a) {
            return "array of " + a.size();
        }
        String text = JsonWriter.compact(value);
        if (text.length() > 40) {
            text = text.substring(0, 37) + "...";
        }
        return value.kind() + " " + text;
    }
}
