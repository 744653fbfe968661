package io.senseflow.tf.testing;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.importer.ImportedGraph;
import io.senseflow.tf.importer.OnnxImporter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;

/** Imports a model into a fresh TensorFlow graph and runs it: the importer's side of the oracle tests. */
public final class TfRun {
    private TfRun() {
    }

    /**
     * @param model the model
     * @param options import options
     * @param inputs values by input name
     * @return every imported output by name
     */
    public static Map<String, TensorValue> run(OnnxModel model, ImportOptions options, Map<String, TensorValue> inputs) {
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(model, options).importInto(g, "m");
            try (Session s = new Session(g)) {
                ig.initializeVariables(s);
                return run(s, ig, inputs, new ArrayList<>(ig.outputs().values()), new ArrayList<>(ig.outputs().keySet()));
            }
        }
    }

    /**
     * @param s a session of the imported graph
     * @param ig the import
     * @param inputs values by input name
     * @param fetch what to fetch
     * @param names names for the fetched values
     * @return fetched values by name
     */
    public static Map<String, TensorValue> run(Session s, ImportedGraph ig, Map<String, TensorValue> inputs,
                                               List<Output<?>> fetch, List<String> names) {
        List<Tensor> fed = new ArrayList<>();
        try {
            Session.Runner r = s.runner();
            for (Map.Entry<String, TensorValue> e : inputs.entrySet()) {
                if (!ig.inputs().containsKey(e.getKey())) {
                    continue;
                }
                Tensor t = TfTensors.of(e.getValue());
                fed.add(t);
                r.feed(ig.input(e.getKey()), t);
            }
            fetch.forEach(r::fetch);
            Map<String, TensorValue> out = new LinkedHashMap<>();
            try (Result res = r.run()) {
                for (int i = 0; i < fetch.size(); i++) {
                    out.put(names.get(i), TfTensors.toTensorValue(names.get(i), res.get(i)));
                }
            }
            return out;
        } finally {
            fed.forEach(Tensor::close);
        }
    }
}
