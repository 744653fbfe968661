package io.senseflow.onnx.arch;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/** The float initializers of a model by name, remembering which ones a reference forward read. */
final class Weights {
    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Set<String> used = new TreeSet<>();

    Weights(OnnxModel model) {
        for (TensorValue t : model.graph().initializers()) {
            values.put(t.name(), t.toFloats());
        }
    }

    float[] get(String name) {
        float[] v = values.get(name);
        if (v == null) {
            throw new AssertionError("reference needs parameter " + name + "; the model has " + values.keySet());
        }
        used.add(name);
        return v;
    }

    /** @return parameters of the model the reference never read */
    Set<String> unused() {
        Set<String> s = new TreeSet<>(values.keySet());
        s.removeAll(used);
        return s;
    }
}
