package io.senseflow.tf;

import io.senseflow.BackendException;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.graph.TfTensors;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;

/** One session run with fed tensors that are closed afterwards, and TensorFlow errors turned into SDK errors. */
final class Runs {
    private final Session.Runner runner;
    private final List<org.tensorflow.Tensor> fed = new ArrayList<>();
    private final List<Output<?>> fetches = new ArrayList<>();
    private final String what;

    Runs(Session session, String what) {
        this.runner = session.runner();
        this.what = what;
    }

    Runs feed(Output<?> placeholder, org.tensorflow.Tensor t) {
        fed.add(t);
        runner.feed(placeholder, t);
        return this;
    }

    Runs feed(Output<?> placeholder, Tensor t) {
        return feed(placeholder, TfTensors.of(t));
    }

    Runs feed(Output<?> placeholder, float value) {
        return feed(placeholder, TfTensors.scalar(value));
    }

    Runs feed(Output<?> placeholder, double value) {
        return feed(placeholder, TfTensors.scalar(value));
    }

    /** @return the index of the fetched value in the result */
    int fetch(Output<?> o) {
        fetches.add(o);
        runner.fetch(o);
        return fetches.size() - 1;
    }

    Runs target(org.tensorflow.Operation op) {
        runner.addTarget(op);
        return this;
    }

    /** Runs; the caller closes the result. */
    Result run() {
        try {
            return runner.run();
        } catch (TensorFlowException e) {
            throw new BackendException("TensorFlow failed in " + what + ": " + firstLine(e.getMessage()), e);
        } finally {
            for (org.tensorflow.Tensor t : fed) {
                t.close();
            }
            fed.clear();
        }
    }

    /** Runs for the targets only. */
    void runTargets() {
        run().close();
    }

    static String firstLine(String m) {
        if (m == null) {
            return "(no message)";
        }
        String t = m.strip();
        int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl);
    }
}
