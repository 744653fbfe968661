package io.senseflow.tf.graph;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Session;
import org.tensorflow.Tensor;

/**
 * Sets variables to their initial values by feeding them, in runs of at most {@link #CHUNK_BYTES} bytes so a large
 * model never needs a second full copy in native memory. Variables without an initial value are zeroed in-graph.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class VariableInitializer {
    /** Bytes fed per session run. */
    public static final long CHUNK_BYTES = 256L << 20;

    private VariableInitializer() {
    }

    /**
     * @param session the session holding the variables' state
     * @param variables the variables
     */
    public static void run(Session session, List<TfVariable> variables) {
        List<TfVariable> zeros = new ArrayList<>();
        List<TfVariable> chunk = new ArrayList<>();
        long bytes = 0;
        for (TfVariable v : variables) {
            if (v.initialValue() == null) {
                zeros.add(v);
                continue;
            }
            long b = v.size() * DataTypes.byteSize(v.dtype());
            if (!chunk.isEmpty() && bytes + b > CHUNK_BYTES) {
                feed(session, chunk);
                chunk.clear();
                bytes = 0;
            }
            chunk.add(v);
            bytes += b;
        }
        if (!chunk.isEmpty()) {
            feed(session, chunk);
        }
        if (!zeros.isEmpty()) {
            Session.Runner r = session.runner();
            for (TfVariable v : zeros) {
                r.addTarget(v.zeroOp());
            }
            r.run().close();
        }
    }

    private static void feed(Session session, List<TfVariable> chunk) {
        List<Tensor> tensors = new ArrayList<>(chunk.size());
        try {
            Session.Runner r = session.runner();
            for (TfVariable v : chunk) {
                Tensor t = TfTensors.of(v.initialValue());
                tensors.add(t);
                r.feed(v.feedPlaceholder(), t).addTarget(v.assignOp());
            }
            r.run().close();
        } finally {
            for (Tensor t : tensors) {
                t.close();
            }
        }
    }
}
