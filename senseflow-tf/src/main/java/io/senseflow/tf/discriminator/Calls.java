package io.senseflow.tf.discriminator;

import io.senseflow.BackendException;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.graph.TfTensors;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;

/** One session run whose fed tensors are closed afterwards; TensorFlow errors become {@link BackendException}s. */
final class Calls {
    private final Session.Runner runner;
    private final List<org.tensorflow.Tensor> fed = new ArrayList<>();
    private final String what;
    private int fetched;

    Calls(Session session, String what) {
        this.runner = session.runner();
        this.what = what;
    }

    Calls feed(Output<?> placeholder, org.tensorflow.Tensor t) {
        fed.add(t);
        runner.feed(placeholder, t);
        return this;
    }

    Calls feed(Output<?> placeholder, Tensor t) {
        return feed(placeholder, TfTensors.of(t));
    }

    Calls feed(Output<?> placeholder, float v) {
        return feed(placeholder, TfTensors.scalar(v));
    }

    Calls feed(Output<?> placeholder, double v) {
        return feed(placeholder, TfTensors.scalar(v));
    }

    /** @return the fetch's index in the result */
    int fetch(Output<?> o) {
        runner.fetch(o);
        return fetched++;
    }

    Calls target(Operation op) {
        runner.addTarget(op);
        return this;
    }

    /** Runs; the caller closes the result. */
    Result run() {
        try {
            return runner.run();
        } catch (TensorFlowException e) {
            String m = e.getMessage() == null ? "(no message)" : e.getMessage().strip();
            int nl = m.indexOf('\n');
            throw new BackendException("TensorFlow failed in " + what + ": " + (nl < 0 ? m : m.substring(0, nl)), e);
        } finally {
            for (org.tensorflow.Tensor t : fed) {
                t.close();
            }
            fed.clear();
        }
    }

    void runTargets() {
        run().close();
    }
}
