package io.senseflow.tf.importer;

import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.tf.graph.DataTypes;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfTensors;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Graph;
import org.tensorflow.Result;
import org.tensorflow.Session;

/**
 * Evaluates nodes whose inputs are all known at import, with the same handlers, in a private scratch graph: the
 * result is exactly what the imported op would compute, and nothing of the evaluation stays in the target graph.
 * Owned by one import; closed at its end.
 */
final class ConstantFolder implements AutoCloseable {
    /** Folds per scratch graph: a session re-reads its whole graph when ops are added, so it is renewed. */
    private static final int FOLDS_PER_GRAPH = 48;
    private Graph graph = new Graph();
    private Session session = newSession(graph);
    private GraphOps ops = GraphOps.of(graph, "fold");
    private int folds;
    private final long limitBytes;
    private final boolean float64;

    ConstantFolder(long limitBytes) {
        this(limitBytes, false);
    }

    ConstantFolder(long limitBytes, boolean float64) {
        this.limitBytes = limitBytes;
        this.float64 = float64;
    }

    /**
     * @return the node's outputs as constants, or null when a result would exceed the fold limit (the caller then
     *     imports the node as ops)
     */
    Value[] fold(OpHandler handler, OnnxNode node, long opset, List<Value> inputs) {
        if (++folds > FOLDS_PER_GRAPH) {
            close();
            graph = new Graph();
            session = newSession(graph);
            ops = GraphOps.of(graph, "fold");
            folds = 1;
        }
        NodeContext ctx = new NodeContext(node, opset, ops.scoped(NodeContext.label(node)), inputs,
                (v, o) -> o.constant(v.constant()), float64);
        Value[] produced = handler.apply(ctx);
        List<Integer> pending = new ArrayList<>();
        for (int k = 0; k < produced.length; k++) {
            Value v = produced[k];
            if (v == null || v.isConstant()) {
                continue;
            }
            long[] shape = v.shape();
            if (shape != null) {
                long n = 1;
                for (long d : shape) {
                    n = d < 0 ? -1 : n * d;
                    if (n < 0) {
                        break;
                    }
                }
                if (n >= 0 && n * DataTypes.byteSize(v.dtype()) > limitBytes) {
                    return null;
                }
            }
            pending.add(k);
        }
        Value[] out = produced.clone();
        if (pending.isEmpty()) {
            return out;
        }
        Session.Runner r = session.runner();
        for (int k : pending) {
            r.fetch(produced[k].output());
        }
        try (Result res = r.run()) {
            for (int i = 0; i < pending.size(); i++) {
                int k = pending.get(i);
                // a size unknown before the run (NonZero's count) is checked now
                if (res.get(i).shape().size() * DataTypes.byteSize(produced[k].dtype()) > limitBytes) {
                    return null;
                }
                out[k] = Value.constant(TfTensors.toTensorValue(node.outputs().get(k), res.get(i)));
            }
        }
        return out;
    }

    /**
     * Grappler off: each fold is a new fetch, so a new executor, and the graph optimisers would run for every one of
     * them (they cost far more than the fold itself, and the folded values must be exactly what the op computes).
     */
    private static Session newSession(Graph g) {
        return new Session(g, org.tensorflow.proto.ConfigProto.newBuilder()
                .setGraphOptions(org.tensorflow.proto.GraphOptions.newBuilder()
                        .setRewriteOptions(org.tensorflow.proto.RewriterConfig.newBuilder().setDisableMetaOptimizer(true)))
                .build());
    }

    @Override
    public void close() {
        session.close();
        graph.close();
    }
}
