package io.senseflow.onnx.json;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

/** A JSON array: an immutable list of values. */
public final class JsonArray implements JsonValue, Iterable<JsonValue> {
    private final List<JsonValue> values;

    private JsonArray(List<JsonValue> values) {
        this.values = values;
    }

    /** @param values the elements @return the array */
    public static JsonArray of(List<? extends JsonValue> values) {
        return new JsonArray(List.copyOf(values));
    }

    /** @param values the elements @return the array */
    public static JsonArray of(JsonValue... values) {
        return new JsonArray(List.of(values));
    }

    /** @param values integers @return an array of numbers */
    public static JsonArray ofLongs(long... values) {
        List<JsonValue> list = new ArrayList<>(values.length);
        for (long v : values) {
            list.add(JsonNumber.of(v));
        }
        return new JsonArray(List.copyOf(list));
    }

    /** @param values strings @return an array of strings */
    public static JsonArray ofStrings(List<String> values) {
        List<JsonValue> list = new ArrayList<>(values.size());
        for (String v : values) {
            list.add(new JsonString(v));
        }
        return new JsonArray(List.copyOf(list));
    }

    /** @return the elements, unmodifiable */
    public List<JsonValue> values() {
        return values;
    }

    /** @return the number of elements */
    public int size() {
        return values.size();
    }

    /** @param index an index @return the element @throws JsonException if the index is out of range */
    public JsonValue get(int index) {
        if (index < 0 || index >= values.size()) {
            throw new JsonException("index " + index + " is outside an array of " + values.size());
        }
        return values.get(index);
    }

    /**
     * @return every element as an exact {@code long}
     * @throws JsonException naming the index of the first element that is not an integer
     */
    public long[] toLongArray() {
        long[] out = new long[values.size()];
        for (int i = 0; i < out.length; i++) {
            try {
                out[i] = values.get(i).asLong();
            } catch (JsonException e) {
                throw new JsonException("element " + i + ": " + e.getMessage());
            }
        }
        return out;
    }

    @Override
    public Iterator<JsonValue> iterator() {
        return values.iterator();
    }

    @Override
    public String kind() {
        return "array";
    }

    @Override
    public JsonArray asArray() {
        return this;
    }

    @Override
    public boolean equals(Object o) {
        return o == this || (o instanceof JsonArray a && values.equals(a.values));
    }

    @Override
    public int hashCode() {
        return Objects.hash(values);
    }

    @Override
    public String toString() {
        return JsonWriter.compact(this);
    }
}
