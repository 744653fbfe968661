package io.senseflow.examples.report;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Makes measured values JSON-writable: JSON has no NaN or infinity, so a value that was not measurable becomes null. */
public final class JsonValues {
    private JsonValues() {
    }

    /**
     * @param value a JSON-ready tree (maps, lists, numbers, strings, booleans, null)
     * @return the same tree with every non-finite double (and float) replaced by null
     */
    public static Object finite(Object value) {
        if (value instanceof Double d) {
            return Double.isFinite(d) ? d : null;
        }
        if (value instanceof Float f) {
            return Float.isFinite(f) ? (double) f : null;
        }
        if (value instanceof Map<?, ?> m) {
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(String.valueOf(k), finite(v)));
            return out;
        }
        if (value instanceof List<?> l) {
            List<Object> out = new ArrayList<>(l.size());
            l.forEach(v -> out.add(finite(v)));
            return out;
        }
        return value;
    }
}
