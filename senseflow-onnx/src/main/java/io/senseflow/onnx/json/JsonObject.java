package io.senseflow.onnx.json;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A JSON object: an immutable map from names to values that keeps the order the members were written in (so a
 * file written from it is deterministic). Names are unique.
 */
public final class JsonObject implements JsonValue {
    private final Map<String, JsonValue> members;

    private JsonObject(Map<String, JsonValue> members) {
        this.members = Collections.unmodifiableMap(members);
    }

    /** @return a builder for a new object */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the members in order, unmodifiable */
    public Map<String, JsonValue> members() {
        return members;
    }

    /** @return the member names in order */
    public Set<String> names() {
        return members.keySet();
    }

    /** @return the number of members */
    public int size() {
        return members.size();
    }

    /** @param name a member name @return whether the object has it */
    public boolean has(String name) {
        return members.containsKey(name);
    }

    /** @param name a member name @return the value, or null when absent */
    public JsonValue get(String name) {
        return members.get(name);
    }

    /**
     * @param name a member name
     * @return the value
     * @throws JsonException if the member is absent
     */
    public JsonValue require(String name) {
        JsonValue v = members.get(name);
        if (v == null) {
            throw new JsonException("missing member \"" + name + "\"");
        }
        return v;
    }

    /**
     * @param name a member name
     * @return the member's string value
     * @throws JsonException if absent or not a string, naming the member
     */
    public String getString(String name) {
        return member(name, require(name)).asStringChecked();
    }

    /**
     * @param name a member name
     * @param fallback returned when the member is absent
     * @return the member's string value, or the fallback
     * @throws JsonException if present but not a string
     */
    public String getString(String name, String fallback) {
        JsonValue v = members.get(name);
        return v == null ? fallback : member(name, v).asStringChecked();
    }

    /**
     * @param name a member name
     * @return the member's exact integer value
     * @throws JsonException if absent or not an integer in range, naming the member
     */
    public long getLong(String name) {
        return member(name, require(name)).asLongChecked();
    }

    /**
     * @param name a member name
     * @param fallback returned when the member is absent
     * @return the member's exact integer value, or the fallback
     */
    public long getLong(String name, long fallback) {
        JsonValue v = members.get(name);
        return v == null ? fallback : member(name, v).asLongChecked();
    }

    /**
     * @param name a member name
     * @return the member's numeric value
     * @throws JsonException if absent or not a number
     */
    public double getDouble(String name) {
        return member(name, require(name)).asDoubleChecked();
    }

    /**
     * @param name a member name
     * @param fallback returned when the member is absent
     * @return the member's numeric value, or the fallback
     */
    public double getDouble(String name, double fallback) {
        JsonValue v = members.get(name);
        return v == null ? fallback : member(name, v).asDoubleChecked();
    }

    /**
     * @param name a member name
     * @param fallback returned when the member is absent
     * @return the member's boolean value, or the fallback
     */
    public boolean getBoolean(String name, boolean fallback) {
        JsonValue v = members.get(name);
        return v == null ? fallback : member(name, v).asBooleanChecked();
    }

    /**
     * @param name a member name
     * @return the member's object value
     * @throws JsonException if absent or not an object
     */
    public JsonObject getObject(String name) {
        return member(name, require(name)).asObjectChecked();
    }

    /**
     * @param name a member name
     * @return the member's array value
     * @throws JsonException if absent or not an array
     */
    public JsonArray getArray(String name) {
        return member(name, require(name)).asArrayChecked();
    }

    private static Member member(String name, JsonValue value) {
        return new Member(name, value);
    }

    /** Adds the member name to kind errors. */
    private record Member(String name, JsonValue value) {
        private JsonException wrap(JsonException e) {
            return new JsonException("member \"" + name + "\": " + e.getMessage());
        }

        String asStringChecked() {
            try {
                return value.asString();
            } catch (JsonException e) {
                throw wrap(e);
            }
        }

        long asLongChecked() {
            try {
                return value.asLong();
            } catch (JsonException e) {
                throw wrap(e);
            }
        }

        double asDoubleChecked() {
            try {
                return value.asDouble();
            } catch (JsonException e) {
                throw wrap(e);
            }
        }

        boolean asBooleanChecked() {
            try {
                return value.asBoolean();
            } catch (JsonException e) {
                throw wrap(e);
            }
        }

        JsonObject asObjectChecked() {
            try {
                return value.asObject();
            } catch (JsonException e) {
                throw wrap(e);
            }
        }

        JsonArray asArrayChecked() {
            try {
                return value.asArray();
            } catch (JsonException e) {
                throw wrap(e);
            }
        }
    }

    @Override
    public String kind() {
        return "object";
    }

    @Override
    public JsonObject asObject() {
        return this;
    }

    /** Objects are equal when they have the same members, in any order. */
    @Override
    public boolean equals(Object o) {
        return o == this || (o instanceof JsonObject j && members.equals(j.members));
    }

    @Override
    public int hashCode() {
        return Objects.hash(members);
    }

    @Override
    public String toString() {
        return JsonWriter.compact(this);
    }

    /** Collects members in order; names must be unique. */
    public static final class Builder {
        private final LinkedHashMap<String, JsonValue> members = new LinkedHashMap<>();
        private boolean built;

        private Builder() {
        }

        /**
         * @param name a member name, not yet used
         * @param value the value
         * @return this builder
         * @throws JsonException if the name is already present
         */
        public Builder put(String name, JsonValue value) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(value, "value");
            if (built) {
                throw new IllegalStateException("builder already built");
            }
            if (members.putIfAbsent(name, value) != null) {
                throw new JsonException("duplicate member \"" + name + "\"");
            }
            return this;
        }

        /** @param name a member name @param value a string @return this builder */
        public Builder put(String name, String value) {
            return put(name, new JsonString(value));
        }

        /** @param name a member name @param value an integer @return this builder */
        public Builder put(String name, long value) {
            return put(name, JsonNumber.of(value));
        }

        /** @param name a member name @param value a finite double @return this builder */
        public Builder put(String name, double value) {
            return put(name, JsonNumber.of(value));
        }

        /** @param name a member name @param value a boolean @return this builder */
        public Builder put(String name, boolean value) {
            return put(name, JsonBoolean.of(value));
        }

        /** @param name a member name @return whether it is present */
        public boolean has(String name) {
            return members.containsKey(name);
        }

        /** @return the object */
        public JsonObject build() {
            built = true;
            return new JsonObject(members);
        }
    }
}
