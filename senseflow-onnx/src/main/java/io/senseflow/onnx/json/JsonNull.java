package io.senseflow.onnx.json;

/** The JSON {@code null}. */
public enum JsonNull implements JsonValue {
    /** The only instance. */
    INSTANCE;

    @Override
    public String kind() {
        return "null";
    }

    @Override
    public boolean isNull() {
        return true;
    }

    @Override
    public String toString() {
        return "null";
    }
}
