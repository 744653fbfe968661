package io.senseflow.onnx.json;

/** A JSON {@code true} or {@code false}. */
public enum JsonBoolean implements JsonValue {
    /** {@code true} */
    TRUE,
    /** {@code false} */
    FALSE;

    /** @param value a boolean @return the matching constant */
    public static JsonBoolean of(boolean value) {
        return value ? TRUE : FALSE;
    }

    @Override
    public String kind() {
        return "boolean";
    }

    @Override
    public boolean asBoolean() {
        return this == TRUE;
    }

    @Override
    public String toString() {
        return this == TRUE ? "true" : "false";
    }
}
