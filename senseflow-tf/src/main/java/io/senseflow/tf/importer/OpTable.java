package io.senseflow.tf.importer;

import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/** The one table from ONNX operator (default domain) to handler. */
final class OpTable {
    private static final class Holder {
        static final Map<String, OpHandler> TABLE = build();
    }

    private OpTable() {
    }

    private static Map<String, OpHandler> build() {
        Map<String, OpHandler> t = new TreeMap<>();
        ElementwiseHandlers.register(t);
        ShapeHandlers.register(t);
        NnHandlers.register(t);
        return Collections.unmodifiableMap(t);
    }

    /** @param opType an operator of the default domain @return its handler, or null */
    static OpHandler get(String opType) {
        return Holder.TABLE.get(opType);
    }

    /** @return the supported operators, sorted */
    static Set<String> supported() {
        return Holder.TABLE.keySet();
    }
}
