package io.senseflow.json;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Typed, path-aware access to a parsed JSON object: every error names the full path of the field
 * ({@code "isg.margin: expected an integer, got \"x\""}).
 *
 * <p>Immutable (an unmodifiable view of parsed JSON): safe to share between threads.
 */
public final class JsonObject {
    private final Map<String, Object> map;
    private final String path;

    JsonObject(Map<String, Object> map, String path) {
        this.map = map;
        this.path = path;
    }

    /** @param map values @return a wrapper over them (not copied) */
    public static JsonObject of(Map<String, Object> map) {
        return new JsonObject(map, "");
    }

    /** @return the underlying map (unmodifiable) */
    public Map<String, Object> asMap() {
        return Collections.unmodifiableMap(map);
    }

    /** @return the keys */
    public Set<String> keys() {
        return map.keySet();
    }

    /** @param key key @return whether present (even if null) */
    public boolean has(String key) {
        return map.containsKey(key);
    }

    /** @param key key @return the raw value, or null */
    public Object raw(String key) {
        return map.get(key);
    }

    /** @param key key @return the field's full path */
    public String pathOf(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private Object require(String key) {
        if (!map.containsKey(key)) {
            throw new JsonException(pathOf(key) + ": required field is missing");
        }
        return map.get(key);
    }

    /** @param key key @return the string */
    public String getString(String key) {
        Object v = require(key);
        if (!(v instanceof String s)) {
            throw wrong(key, "a string", v);
        }
        return s;
    }

    /** @param key key @param fallback default @return the string or the default */
    public String getString(String key, String fallback) {
        return has(key) ? getString(key) : fallback;
    }

    /** @param key key @return the number as a double */
    public double getDouble(String key) {
        Object v = require(key);
        if (!(v instanceof Number n) || v instanceof BigInteger) {
            throw wrong(key, "a number", v);
        }
        return n.doubleValue();
    }

    /** @param key key @param fallback default @return the number or the default */
    public double getDouble(String key, double fallback) {
        return has(key) ? getDouble(key) : fallback;
    }

    /** @param key key @return the integer (a JSON number without fraction that fits a long) */
    public long getLong(String key) {
        Object v = require(key);
        if (v instanceof Long l) {
            return l;
        }
        if (v instanceof Double d && d == Math.rint(d) && Math.abs(d) < 9.007e15) {
            return d.longValue();
        }
        throw wrong(key, "an integer", v);
    }

    /** @param key key @param fallback default @return the integer or the default */
    public long getLong(String key, long fallback) {
        return has(key) ? getLong(key) : fallback;
    }

    /** @param key key @return the integer, which must fit an int */
    public int getInt(String key) {
        long l = getLong(key);
        if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
            throw wrong(key, "a 32-bit integer", l);
        }
        return (int) l;
    }

    /** @param key key @param fallback default @return the integer or the default */
    public int getInt(String key, int fallback) {
        return has(key) ? getInt(key) : fallback;
    }

    /** @param key key @return the boolean */
    public boolean getBoolean(String key) {
        Object v = require(key);
        if (!(v instanceof Boolean b)) {
            throw wrong(key, "true or false", v);
        }
        return b;
    }

    /** @param key key @param fallback default @return the boolean or the default */
    public boolean getBoolean(String key, boolean fallback) {
        return has(key) ? getBoolean(key) : fallback;
    }

    /** @param key key @return the nested object */
    @SuppressWarnings("unchecked")
    public JsonObject getObject(String key) {
        Object v = require(key);
        if (!(v instanceof Map)) {
            throw wrong(key, "an object", v);
        }
        return new JsonObject((Map<String, Object>) v, pathOf(key));
    }

    /** @param key key @return the array */
    @SuppressWarnings("unchecked")
    public List<Object> getArray(String key) {
        Object v = require(key);
        if (!(v instanceof List)) {
            throw wrong(key, "an array", v);
        }
        return (List<Object>) v;
    }

    /** @param key key @return the array of numbers */
    public double[] getDoubleArray(String key) {
        List<Object> l = getArray(key);
        double[] out = new double[l.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = l.get(i);
            if (!(v instanceof Number n) || v instanceof BigInteger) {
                throw new JsonException(pathOf(key) + "[" + i + "]: expected a number, got " + describe(v));
            }
            out[i] = n.doubleValue();
        }
        return out;
    }

    /** @param key key @return the array of integers */
    public long[] getLongArray(String key) {
        List<Object> l = getArray(key);
        long[] out = new long[l.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = l.get(i);
            if (!(v instanceof Long x)) {
                throw new JsonException(pathOf(key) + "[" + i + "]: expected an integer, got " + describe(v));
            }
            out[i] = x;
        }
        return out;
    }

    /** @param key key @return the array of strings */
    public List<String> getStringList(String key) {
        List<Object> l = getArray(key);
        List<String> out = new ArrayList<>();
        for (int i = 0; i < l.size(); i++) {
            if (!(l.get(i) instanceof String s)) {
                throw new JsonException(pathOf(key) + "[" + i + "]: expected a string, got " + describe(l.get(i)));
            }
            out.add(s);
        }
        return out;
    }

    /**
     * Fails on keys outside {@code allowed}: a misspelt config field must not be silently ignored.
     *
     * @param allowed the known keys
     */
    public void requireOnly(Set<String> allowed) {
        for (String k : map.keySet()) {
            if (!allowed.contains(k)) {
                throw new JsonException(pathOf(k) + ": unknown field (known: " + allowed + ")");
            }
        }
    }

    private JsonException wrong(String key, String expected, Object got) {
        return new JsonException(pathOf(key) + ": expected " + expected + ", got " + describe(got));
    }

    static String describe(Object v) {
        if (v == null) {
            return "null";
        }
        if (v instanceof String s) {
            return "\"" + (s.length() > 40 ? s.substring(0, 40) + "..." : s) + "\"";
        }
        if (v instanceof Map) {
            return "an object";
        }
        if (v instanceof List) {
            return "an array";
        }
        return v.toString();
    }
}
