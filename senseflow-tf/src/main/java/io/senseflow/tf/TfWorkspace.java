package io.senseflow.tf;

import io.senseflow.tf.graph.GraphOps;
import java.util.HashSet;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.Session;

/**
 * One TensorFlow graph and the session that holds its variables: the place where modules live. Modules built in
 * the same workspace share it, so operations across them run inside TensorFlow ({@code blendFrom} for IDA and EMA
 * between stores of the same architecture, for instance). Closing the workspace releases the graph, the session
 * and every variable; modules built in it can no longer run.
 *
 * <p>Before the first workspace with given settings starts, the SDK checks the engine: it refuses to run with
 * oneDNN enabled in the process environment (unless {@link TfSessionOptions#withOneDnnAllowed(boolean)}) and runs
 * {@link EngineSelfCheck}'s probes, throwing {@link EngineCheckException} if TensorFlow computes a wrong value.
 *
 * <p>Not thread-safe: a workspace belongs to one training loop.
 */
public final class TfWorkspace implements AutoCloseable {
    private final Graph graph;
    private final Session session;
    private final TfSessionOptions options;
    private final Set<String> scopes = new HashSet<>();
    private boolean closed;

    private TfWorkspace(TfSessionOptions options) {
        this.options = options;
        checkEngine(options);
        this.graph = new Graph();
        try {
            this.session = new Session(graph, options.toProto());
        } catch (RuntimeException e) {
            graph.close();
            throw e;
        }
    }

    /**
     * Refuses to start TensorFlow with oneDNN enabled unless the options (or the system property
     * {@value EngineSelfCheck#ALLOW_ONEDNN_PROPERTY}) allow it, then runs the engine self-check
     * (once per process and settings).
     */
    static void checkEngine(TfSessionOptions options) {
        if (EngineSelfCheck.oneDnnEnabled() && !options.allowOneDnn()
                && !Boolean.getBoolean(EngineSelfCheck.ALLOW_ONEDNN_PROPERTY)) {
            throw new EngineCheckException(EngineSelfCheck.ONEDNN_VARIABLE, "TensorFlow would run with oneDNN"
                    + " enabled: the environment variable " + EngineSelfCheck.ONEDNN_VARIABLE + " is "
                    + (System.getenv(EngineSelfCheck.ONEDNN_VARIABLE) == null ? "unset"
                            : "'" + System.getenv(EngineSelfCheck.ONEDNN_VARIABLE) + "'")
                    + ", expected 0. oneDNN kernels computed wrong values on some CPUs (a fused constant-weight"
                    + " MatMul and a small convolution's backward pass on an AMD EPYC), silently. Start the JVM with "
                    + EngineSelfCheck.ONEDNN_VARIABLE + "=0 in its environment (the senseflow launcher and the Maven"
                    + " test configuration do this; a -D system property has no effect), or accept the risk with"
                    + " TfSessionOptions.withOneDnnAllowed(true). CPU: " + EngineSelfCheck.cpuDescription());
        }
        EngineSelfCheck.ensure(options);
    }

    /** @return a workspace with {@link TfSessionOptions#defaults()} */
    public static TfWorkspace create() {
        return create(TfSessionOptions.defaults());
    }

    /** @param options session settings @return a new workspace */
    public static TfWorkspace create(TfSessionOptions options) {
        return new TfWorkspace(options);
    }

    /** @return the graph */
    public Graph graph() {
        ensureOpen();
        return graph;
    }

    /** @return the session */
    public Session session() {
        ensureOpen();
        return session;
    }

    /** @return the session settings */
    public TfSessionOptions options() {
        return options;
    }

    /**
     * @param base a wanted scope name
     * @return a builder under a scope unused by other modules of this workspace ({@code base}, {@code base_1}, ...),
     *     for modules built outside this package (the discriminator, for instance)
     */
    public GraphOps newScope(String base) {
        ensureOpen();
        String name = io.senseflow.tf.graph.TfNames.flat(base);
        String s = name;
        for (int k = 1; !scopes.add(s) || graph.operation(s) != null; k++) {
            s = name + "_" + k;
        }
        return GraphOps.of(graph, s);
    }

    void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("TfWorkspace is closed");
        }
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            session.close();
            graph.close();
        }
    }
}
