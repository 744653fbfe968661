package io.senseflow.tf.graph;

import io.senseflow.BackendException;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;

/**
 * One session run with fed tensors that are closed afterwards, and TensorFlow errors turned into
 * {@link BackendException}s naming what was being run. The SDK's own TensorFlow code uses it for every session run.
 * Not thread-safe: build, run and discard it on one thread.
 */
public final class Runs {
    private final Session.Runner runner;
    private final List<org.tensorflow.Tensor> fed = new ArrayList<>();
    private final List<Output<?>> fetches = new ArrayList<>();
    private final String what;

    /**
     * @param session the session to run
     * @param what what the run does, for error messages
     */
    public Runs(Session session, String what) {
        this.runner = session.runner();
        this.what = what;
    }

    /** Feeds a tensor, which this run closes after running. @param placeholder where @param t the value @return this */
    public Runs feed(Output<?> placeholder, org.tensorflow.Tensor t) {
        fed.add(t);
        runner.feed(placeholder, t);
        return this;
    }

    /** @param placeholder where @param t the value @return this */
    public Runs feed(Output<?> placeholder, Tensor t) {
        return feed(placeholder, TfTensors.of(t));
    }

    /** @param placeholder where @param value a float scalar @return this */
    public Runs feed(Output<?> placeholder, float value) {
        return feed(placeholder, TfTensors.scalar(value));
    }

    /** @param placeholder where @param value a double scalar @return this */
    public Runs feed(Output<?> placeholder, double value) {
        return feed(placeholder, TfTensors.scalar(value));
    }

    /** @param o what to fetch @return the index of the fetched value in the result */
    public int fetch(Output<?> o) {
        fetches.add(o);
        runner.fetch(o);
        return fetches.size() - 1;
    }

    /** @param op an operation to run for its effect @return this */
    public Runs target(org.tensorflow.Operation op) {
        runner.addTarget(op);
        return this;
    }

    /** @return the fetched values; the caller closes the result */
    public Result run() {
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
    public void runTargets() {
        run().close();
    }

    /** @param m an exception message, possibly null @return its first line, for one-line SDK errors */
    public static String firstLine(String m) {
        if (m == null) {
            return "(no message)";
        }
        String t = m.strip();
        int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl);
    }
}
