package io.senseflow.tf.distributed;

import io.senseflow.BackendException;
import io.senseflow.InvalidRequestException;
import io.senseflow.tf.EngineCheckException;
import io.senseflow.tf.EngineSelfCheck;
import io.senseflow.tf.graph.TfTensors;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.PointerScope;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Server;
import org.tensorflow.Session;
import org.tensorflow.internal.c_api.TF_Graph;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.internal.c_api.global.tensorflow;
import org.tensorflow.proto.ClusterDef;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.JobDef;
import org.tensorflow.proto.RunOptions;
import org.tensorflow.proto.ServerDef;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * One worker's membership in a data-parallel group on TensorFlow's own distributed runtime: an in-process gRPC
 * server for this task, a session on it, and a small graph of {@code CollectiveReduceV2} (mean) and
 * {@code CollectiveGatherV2} ops over float vectors. Every call is a collective: all workers must make the same calls
 * with the same keys and lengths in the same order, and each call is bounded by the timeout (session
 * {@code operation_timeout_in_ms} and the run's {@code timeout_in_ms}); a peer that died, hung or lost its network
 * ends the call with a {@link CollectiveException} instead of a hang.
 *
 * <p>Limits of TensorFlow Java 1.1.0 this owner lives with: the server cannot be shut down in-process ({@code
 * Server.stop()} is not implemented), so {@link #close()} releases the session and graph and leaves the server
 * running until the JVM exits (one group per process); after a failed collective the process's collectives stay
 * broken, so this object refuses further calls and the worker must be restarted. The session is opened through
 * TensorFlow's package-private {@code Session(Graph, TF_Session)} constructor (the public API has no session target),
 * which works when TensorFlow is on the class path, not as a named module.
 *
 * <p>Called from one thread (the training thread).
 */
public final class CollectiveGroup implements AutoCloseable {
    /** The TensorFlow job name of the workers. */
    public static final String JOB = "worker";
    private static final int GROUP_KEY = 1;
    /** Values per collective op: larger arrays are reduced in several chunks of at most this many floats. */
    public static final int CHUNK = 1 << 23;

    private final ClusterSpec cluster;
    private final int task;
    private final long timeoutMs;
    private final Graph graph;
    private final Session session;
    private final Map<String, Collective> ops = new HashMap<>();
    private int nextInstanceKey = 1;
    private String broken;
    private long calls;
    private long bytes;
    private long nanos;

    private record Collective(Output<TFloat32> input, Output<?> output) {
    }

    private CollectiveGroup(ClusterSpec cluster, int task, long timeoutMs, Graph graph, Session session) {
        this.cluster = cluster;
        this.task = task;
        this.timeoutMs = timeoutMs;
        this.graph = graph;
        this.session = session;
    }

    /**
     * Starts this task's gRPC server (binding its port on all interfaces) and opens the session. Returns before the
     * other workers are up; the first collective waits for them (within the timeout).
     *
     * @param cluster every worker's address, the same list on every worker
     * @param task this worker's index in it
     * @param timeout bound of every collective call
     * @return the group member
     * @throws EngineCheckException if TensorFlow would run with oneDNN on (the SDK's policy)
     * @throws BackendException if the server or session cannot start (e.g. the port is taken)
     */
    public static CollectiveGroup join(ClusterSpec cluster, int task, Duration timeout) {
        cluster.address(task);
        if (timeout.isNegative() || timeout.isZero()) {
            throw InvalidRequestException.of("collective timeout", "a positive duration", timeout);
        }
        if (EngineSelfCheck.oneDnnEnabled() && !Boolean.getBoolean(EngineSelfCheck.ALLOW_ONEDNN_PROPERTY)) {
            throw new EngineCheckException(EngineSelfCheck.ONEDNN_VARIABLE, "TensorFlow would run with oneDNN on;"
                    + " start the worker with " + EngineSelfCheck.ONEDNN_VARIABLE + "=0");
        }
        long ms = Math.max(1, timeout.toMillis());
        ConfigProto config = sessionConfig(ms);
        JobDef.Builder job = JobDef.newBuilder().setName(JOB);
        for (int i = 0; i < cluster.size(); i++) {
            job.putTasks(i, cluster.address(i));
        }
        ServerDef def = ServerDef.newBuilder().setCluster(ClusterDef.newBuilder().addJob(job)).setJobName(JOB)
                .setTaskIndex(task).setProtocol("grpc").setDefaultSessionConfig(config).build();
        Server server;
        try {
            server = new Server(def);
            server.start();
        } catch (RuntimeException e) {
            throw new BackendException("data-parallel task " + task + ": cannot start the TensorFlow gRPC server on "
                    + cluster.address(task) + " (port taken?): " + e.getMessage(), e);
        }
        // the server is never stopped: TensorFlow Java cannot shut it down in-process (see the class comment)
        Graph graph = new Graph();
        try {
            Session session = openSession(graph, "grpc://" + loopbackTarget(cluster.address(task)), config);
            return new CollectiveGroup(cluster, task, ms, graph, session);
        } catch (RuntimeException e) {
            graph.close();
            throw e;
        }
    }

    private static String loopbackTarget(String address) {
        return "localhost" + address.substring(address.lastIndexOf(':'));
    }

    private static ConfigProto sessionConfig(long timeoutMs) {
        return ConfigProto.newBuilder().setOperationTimeoutInMs(timeoutMs)
                .setExperimental(ConfigProto.Experimental.newBuilder()
                        .setCollectiveGroupLeader("/job:" + JOB + "/replica:0/task:0"))
                .build();
    }

    /** A session on a gRPC target: TF_SetTarget plus TensorFlow's package-private session constructor. */
    private static Session openSession(Graph graph, String target, ConfigProto config) {
        Object ref = null;
        try {
            Method refMethod = Graph.class.getDeclaredMethod("ref");
            refMethod.setAccessible(true);
            ref = refMethod.invoke(graph);
            Method handle = ref.getClass().getDeclaredMethod("nativeHandle");
            handle.setAccessible(true);
            TF_Graph g = (TF_Graph) handle.invoke(ref);
            TF_Session native_;
            try (PointerScope scope = new PointerScope()) {
                TF_Status status = TF_Status.newStatus();
                TF_SessionOptions opts = TF_SessionOptions.newSessionOptions();
                byte[] bytes = config.toByteArray();
                BytePointer cfg = new BytePointer(bytes);
                tensorflow.TF_SetConfig(opts, cfg, bytes.length, status);
                status.throwExceptionIfNotOK();
                tensorflow.TF_SetTarget(opts, target);
                native_ = TF_Session.newSession(g, opts, status);
                status.throwExceptionIfNotOK();
                native_.retainReference();
            }
            Constructor<Session> c = Session.class.getDeclaredConstructor(Graph.class, TF_Session.class);
            c.setAccessible(true);
            return c.newInstance(graph, native_);
        } catch (InvocationTargetException e) {
            throw new BackendException("cannot open a TensorFlow session on " + target + ": " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new BackendException("cannot open a TensorFlow session on " + target + " (TensorFlow Java must be on"
                    + " the class path, not the module path): " + e, e);
        } finally {
            if (ref instanceof AutoCloseable a) {
                try {
                    Method close = a.getClass().getDeclaredMethod("close");
                    close.setAccessible(true);
                    close.invoke(a);
                } catch (ReflectiveOperationException ignored) {
                    // the graph's reference count only matters for closing the graph early
                }
            }
        }
    }

    /** @return this worker's task index */
    public int task() {
        return task;
    }

    /** @return the number of workers */
    public int size() {
        return cluster.size();
    }

    /** @return the cluster */
    public ClusterSpec cluster() {
        return cluster;
    }

    /** @return the bound of every collective call, in milliseconds */
    public long timeoutMillis() {
        return timeoutMs;
    }

    /** @return collective calls made so far */
    public long calls() {
        return calls;
    }

    /** @return float payload bytes all-reduced or gathered so far (this worker's input) */
    public long bytes() {
        return bytes;
    }

    /** @return wall time spent in collective calls so far, in nanoseconds */
    public long nanos() {
        return nanos;
    }

    /**
     * The element-wise mean over all workers of each worker's {@code values}.
     *
     * @param key names the reduction; the same key and length on every worker (e.g. a module name)
     * @param values this worker's values
     * @return the mean, the same bits on every worker
     * @throws CollectiveException if a peer fails or the call times out
     */
    public float[] allReduceMean(String key, float[] values) {
        if (values.length <= CHUNK) {
            return run(collective("reduce", key + "#0", values.length), values, key);
        }
        float[] out = new float[values.length];
        for (int from = 0, chunk = 0; from < values.length; from += CHUNK, chunk++) {
            int n = Math.min(CHUNK, values.length - from);
            float[] r = run(collective("reduce", key + "#" + chunk, n), Arrays.copyOfRange(values, from, from + n), key);
            System.arraycopy(r, 0, out, from, n);
        }
        return out;
    }

    /**
     * Every worker's {@code values}, concatenated in task order.
     *
     * @param key names the gather; the same key and length on every worker
     * @param values this worker's values (small: fingerprints, flags)
     * @return {@code size() * values.length} values
     * @throws CollectiveException if a peer fails or the call times out
     */
    public float[] allGather(String key, float[] values) {
        return run(collective("gather", key, values.length), values, key);
    }

    private Collective collective(String kind, String key, int n) {
        String id = kind + ":" + key + ":" + n;
        Collective c = ops.get(id);
        if (c != null) {
            return c;
        }
        // instance keys follow the order of first use, which is the same on every worker
        int instance = nextInstanceKey++;
        String device = "/job:" + JOB + "/replica:0/task:" + task + "/device:CPU:0";
        String base = "dp_" + instance;
        Output<TFloat32> in = graph.opBuilder("Placeholder", base + "_in", graph.baseScope()).setAttr("dtype", DataType.DT_FLOAT)
                .setAttr("shape", org.tensorflow.ndarray.Shape.of(n)).setDevice(device).build().output(0);
        Output<?> size = intConst(base + "_size", cluster.size(), device);
        Output<?> group = intConst(base + "_group", GROUP_KEY, device);
        Output<?> inst = intConst(base + "_instance", instance, device);
        org.tensorflow.GraphOperationBuilder b;
        if (kind.equals("reduce")) {
            b = graph.opBuilder("CollectiveReduceV2", base + "_reduce", graph.baseScope()).addInput(in).addInput(size).addInput(group)
                    .addInput(inst).addInputList(new Output<?>[0]).setAttr("T", DataType.DT_FLOAT)
                    .setAttr("merge_op", "Add").setAttr("final_op", "Div").setAttr("communication_hint", "ring")
                    .setAttr("max_subdivs_per_device", 32L);
        } else {
            b = graph.opBuilder("CollectiveGatherV2", base + "_gather", graph.baseScope()).addInput(in).addInput(size).addInput(group)
                    .addInput(inst).addInputList(new Output<?>[0]).setAttr("T", DataType.DT_FLOAT)
                    .setAttr("communication_hint", "ring");
        }
        c = new Collective(in, b.setDevice(device).build().output(0));
        ops.put(id, c);
        return c;
    }

    private Output<?> intConst(String name, int v, String device) {
        try (TInt32 t = TInt32.scalarOf(v)) {
            return graph.opBuilder("Const", name, graph.baseScope()).setAttr("dtype", DataType.DT_INT32).setAttr("value", t)
                    .setDevice(device).build().output(0);
        }
    }

    private float[] run(Collective c, float[] values, String key) {
        if (broken != null) {
            throw new CollectiveException(task, "data-parallel task " + task + ": collectives are unusable after an"
                    + " earlier failure (" + broken + "); restart the worker", false, null);
        }
        long t0 = System.nanoTime();
        RunOptions options = RunOptions.newBuilder().setTimeoutInMs(timeoutMs).build();
        try (TFloat32 in = TfTensors.floats(values, values.length);
                Result r = session.runner().feed(c.input(), in).fetch(c.output()).setOptions(options).run()) {
            float[] out = TfTensors.floats(r.get(0));
            calls++;
            bytes += 4L * values.length;
            return out;
        } catch (RuntimeException e) {
            String m = String.valueOf(e.getMessage());
            boolean timedOut = m.contains("DEADLINE_EXCEEDED") || m.toLowerCase(java.util.Locale.ROOT).contains("timed out")
                    || m.toLowerCase(java.util.Locale.ROOT).contains("deadline")
                    || System.nanoTime() - t0 >= timeoutMs * 1_000_000L;
            broken = timedOut ? "timed out" : firstLine(m);
            if (timedOut) {
                throw new CollectiveException(task, "data-parallel task " + task + ": collective '" + key + "' timed"
                        + " out after " + timeoutMs + " ms waiting for the other workers (a hung, stopped or very slow"
                        + " peer): " + firstLine(m), true, e);
            }
            throw new CollectiveException(task, "data-parallel task " + task + ": collective '" + key + "' failed"
                    + " (a peer died or the network failed): " + firstLine(e.getMessage()), false, e);
        } finally {
            nanos += System.nanoTime() - t0;
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "no message";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** Closes the session and graph; the gRPC server keeps running until the JVM exits (see the class comment). */
    @Override
    public void close() {
        try {
            session.close();
        } finally {
            graph.close();
        }
    }
}
