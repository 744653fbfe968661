package io.senseflow.onnx.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.senseflow.BackendException;
import io.senseflow.DeadlineExceededException;
import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.LongAdder;

/**
 * One ONNX Runtime session: a loaded model that runs on named {@link Tensor}s. Created by {@link OrtRuntime}.
 *
 * <p>Input and output names, element types and dimensions are read from the session when it is created
 * ({@link #inputs()}, {@link #outputs()}). Every call checks the inputs against them before anything runs: unknown
 * and missing names, ranks, fixed dimensions, and symbolic dimensions (such as {@code batch}) that must agree across
 * inputs. Values are converted at the boundary:
 * <ul>
 *   <li>float tensors feed FLOAT, FLOAT16, BFLOAT16 and DOUBLE inputs (rounded to nearest even), and integer or BOOL
 *       inputs when every element is a whole number;</li>
 *   <li>ids ({@link OrtInputs#putIds}) feed INT64, INT32 and smaller integer inputs (range-checked) and float
 *       inputs when each id is exactly representable;</li>
 *   <li>a rank-0 input (a scalar {@code timestep}) accepts a rank-1 value whose elements are all equal and uses that
 *       one value; different values are refused, because one run can only see one. {@link OrtGenerator} and
 *       {@link OrtEpsilonModel} instead run groups of equal timesteps separately. A rank-1 input accepts a scalar as
 *       a one-element vector;</li>
 *   <li>every numeric output comes back as a float tensor (fp16/bf16 exactly, integers exactly up to 2^24).</li>
 * </ul>
 *
 * <p>Time limits: {@link SessionConfig#runTimeout()} bounds every run, {@link #run(OrtInputs, Collection, Duration)}
 * one call; a run past its limit is terminated by ONNX Runtime (between operators) and fails with a
 * {@link DeadlineExceededException}, and the model stays usable.
 *
 * <p>Thread-safe: any number of threads may call {@link #run} at once (ONNX Runtime sessions allow concurrent runs).
 * {@link #close()} waits for runs in flight; closing twice is harmless; use after close throws
 * {@link IllegalStateException}.
 */
public final class OrtModel implements AutoCloseable {
    private final String name;
    private final OrtEnvironment env;
    private final OrtSession session;
    private final OrtSession.SessionOptions options;
    private final SessionConfig config;
    private final ExecutionInfo executionInfo;
    private final Map<String, TensorSpec> inputs;
    private final Map<String, TensorSpec> outputs;
    private final CloseGuard guard;
    private final Runnable onClose;
    private final LongAdder runs = new LongAdder();
    private final LongAdder sessionNanos = new LongAdder();
    private final LongAdder totalNanos = new LongAdder();
    private final LongAdder sessionCpuNanos = new LongAdder();
    private final InputBuffers buffers = new InputBuffers();

    OrtModel(String name, OrtEnvironment env, SessionFactory.Created created, SessionConfig config, Runnable onClose) {
        this.name = name;
        this.env = env;
        this.session = created.session();
        this.options = created.options();
        this.config = config;
        this.executionInfo = created.info();
        this.guard = new CloseGuard("OrtModel " + name);
        this.onClose = onClose;
        try {
            this.inputs = specs(session.getInputInfo(), "input");
            this.outputs = specs(session.getOutputInfo(), "output");
        } catch (OrtException | RuntimeException e) {
            release();
            if (e instanceof ModelLoadException m) {
                throw m;
            }
            throw new ModelLoadException(name + ": cannot read the session's inputs and outputs: " + e.getMessage(), e);
        }
    }

    /** @return the model's display name, such as {@code transformer/model.onnx}; used in every message */
    public String name() {
        return name;
    }

    /** @return the inputs in declaration order */
    public Map<String, TensorSpec> inputs() {
        return inputs;
    }

    /** @return the outputs in declaration order */
    public Map<String, TensorSpec> outputs() {
        return outputs;
    }

    /** @param inputName a name @return whether the model has that input */
    public boolean hasInput(String inputName) {
        return inputs.containsKey(inputName);
    }

    /** @param outputName a name @return whether the model has that output */
    public boolean hasOutput(String outputName) {
        return outputs.containsKey(outputName);
    }

    /**
     * @param inputName an input name
     * @return its declaration
     * @throws InvalidRequestException naming the expected inputs when there is no such input
     */
    public TensorSpec input(String inputName) {
        TensorSpec s = inputs.get(inputName);
        if (s == null) {
            throw new InvalidRequestException(name + ": unknown input '" + inputName + "'; expected one of " + inputs.keySet());
        }
        return s;
    }

    /**
     * @param outputName an output name
     * @return its declaration
     * @throws InvalidRequestException naming the outputs when there is no such output
     */
    public TensorSpec output(String outputName) {
        TensorSpec s = outputs.get(outputName);
        if (s == null) {
            throw new InvalidRequestException(name + ": unknown output '" + outputName + "'; expected one of " + outputs.keySet());
        }
        return s;
    }

    /** @return the configuration the session was created with */
    public SessionConfig config() {
        return config;
    }

    /** @return the requested and the active execution provider */
    public ExecutionInfo executionInfo() {
        return executionInfo;
    }

    /**
     * Runs the model and returns every output.
     *
     * @param in the inputs, one per declared input
     * @return the outputs by name, in declaration order
     * @throws InvalidRequestException if the inputs do not match the declarations (nothing runs)
     * @throws BackendException if ONNX Runtime fails while running
     * @throws IllegalStateException after {@link #close()}
     */
    public Map<String, Tensor> run(OrtInputs in) {
        return run(in, outputs.keySet());
    }

    /**
     * Runs the model and returns only the named outputs (ONNX Runtime skips work that only other outputs need).
     *
     * @param in the inputs
     * @param outputNames the outputs wanted
     * @return those outputs by name, in the order asked
     */
    public Map<String, Tensor> run(OrtInputs in, Collection<String> outputNames) {
        return run(in, outputNames, config.runTimeout());
    }

    /**
     * Runs the model with a time limit for this call (instead of {@link SessionConfig#runTimeout()}).
     *
     * @param in the inputs
     * @param outputNames the outputs wanted
     * @param timeout the limit, {@link Duration#ZERO} for none
     * @return those outputs by name, in the order asked
     * @throws DeadlineExceededException if the limit passed and ONNX Runtime terminated the run
     */
    public Map<String, Tensor> run(OrtInputs in, Collection<String> outputNames, Duration timeout) {
        if (java.util.Objects.requireNonNull(timeout, "timeout").isNegative()) {
            throw InvalidRequestException.of(name + ": timeout", "a non-negative duration (0 = no limit)", timeout);
        }
        return guard.use(() -> {
            long t0 = System.nanoTime();
            Map<String, Tensor> out = doRun(in, outputNames, timeout);
            totalNanos.add(System.nanoTime() - t0);
            runs.increment();
            return out;
        });
    }

    /**
     * @return cumulative run timings since the model was loaded: time inside ONNX Runtime's session run and inside
     *     {@link #run} as a whole; failed runs (terminated ones included) are not counted
     */
    public RunStatistics statistics() {
        return new RunStatistics(runs.sum(), sessionNanos.sum(), totalNanos.sum(), sessionCpuNanos.sum());
    }

    /**
     * @param in named float tensors
     * @return every output
     */
    public Map<String, Tensor> run(Map<String, Tensor> in) {
        return run(OrtInputs.of(in));
    }

    /**
     * @param in the inputs
     * @param outputName the one output wanted
     * @return that output
     */
    public Tensor runSingle(OrtInputs in, String outputName) {
        return run(in, List.of(outputName)).get(outputName);
    }

    private Map<String, Tensor> doRun(OrtInputs in, Collection<String> outputNames, Duration timeout) {
        Set<String> wanted = new LinkedHashSet<>(outputNames);
        for (String o : wanted) {
            output(o);
        }
        if (wanted.isEmpty()) {
            throw InvalidRequestException.of(name + ": outputs", "at least one output name", "none");
        }
        Map<String, OrtInputs.Value> given = in.values();
        for (String n : given.keySet()) {
            input(n);
        }
        for (TensorSpec s : inputs.values()) {
            if (!given.containsKey(s.name())) {
                throw new InvalidRequestException(name + ": missing required input '" + s.name() + "' (" + s.elementType()
                        + " " + s.shape() + "); given " + given.keySet());
            }
        }
        Map<String, long[]> shapes = checkShapes(given);
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        Map<String, ByteBuffer> taken = new LinkedHashMap<>();
        try {
            for (TensorSpec s : inputs.values()) {
                feed.put(s.name(), toOrt(s, given.get(s.name()), shapes.get(s.name()), taken));
            }
            if (timeout.isZero()) {
                long c0 = CpuClock.now();
                long t0 = System.nanoTime();
                try (OrtSession.Result r = session.run(feed, wanted)) {
                    sessionNanos.add(System.nanoTime() - t0);
                    sessionCpuNanos.add(CpuClock.now() - c0);
                    return outputs(r, wanted);
                }
            }
            try (OrtSession.RunOptions options = new OrtSession.RunOptions()) {
                RunWatchdog.Limit limit = RunWatchdog.arm(options, timeout.toNanos());
                OrtSession.Result r;
                long c0 = CpuClock.now();
                long t0 = System.nanoTime();
                try {
                    r = session.run(feed, wanted, options);
                } catch (OrtException e) {
                    limit.close();
                    if (limit.fired()) {
                        throw new DeadlineExceededException(name + ": the run was terminated after its time limit of "
                                + timeout.toMillis() + " ms passed (SessionConfig.runTimeout or the call's timeout)");
                    }
                    throw e;
                } finally {
                    limit.close(); // before the options are closed: the timer never touches closed options
                }
                sessionNanos.add(System.nanoTime() - t0);
                sessionCpuNanos.add(CpuClock.now() - c0);
                try (r) {
                    return outputs(r, wanted);
                }
            }
        } catch (OrtException e) {
            throw new BackendException(name + ": ONNX Runtime failed to run: " + e.getMessage(), e);
        } finally {
            for (OnnxTensor t : feed.values()) {
                t.close();
            }
            // only now that no tensor reads them can the buffers serve another run
            taken.forEach(buffers::give);
        }
    }

    private Map<String, Tensor> outputs(OrtSession.Result r, Set<String> wanted) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String o : wanted) {
            OnnxValue v = r.get(o).orElseThrow(() -> new BackendException(name + ": ONNX Runtime returned no output '" + o + "'"));
            if (!(v instanceof OnnxTensor t)) {
                throw new BackendException(name + ": output '" + o + "' is a " + v.getType() + ", not a tensor");
            }
            out.put(o, Conversions.toTensor(t, name + ": output '" + o + "'"));
        }
        return Collections.unmodifiableMap(out);
    }

    private OnnxTensor toOrt(TensorSpec s, OrtInputs.Value v, long[] shape, Map<String, ByteBuffer> taken)
            throws OrtException {
        String what = s.name();
        if (v instanceof OrtInputs.Floats f) {
            Tensor t = f.tensor();
            if (s.isScalar() && t.size() > 1) {
                t = Tensor.wrap(new float[] {t.get(0)});
            }
            if (s.elementType() == DataType.FLOAT) {
                // straight from the tensor into a reused native buffer: one copy, no allocation
                ByteBuffer b = buffers.take(what, 4L * t.size());
                taken.put(what, b);
                FloatBuffer fb = b.asFloatBuffer();
                fb.put(t.buffer()).flip();
                return OnnxTensor.createTensor(env, fb, shape);
            }
            return Conversions.fromFloats(env, t.toArray(), shape, s.elementType(), describe(s));
        }
        long[] ids = ((OrtInputs.Ids) v).values();
        if (s.isScalar() && ids.length > 1) {
            ids = new long[] {ids[0]};
        }
        if (s.elementType() == DataType.INT64) {
            ByteBuffer b = buffers.take(what, 8L * ids.length);
            taken.put(what, b);
            LongBuffer lb = b.asLongBuffer();
            lb.put(ids).flip();
            return OnnxTensor.createTensor(env, lb, shape);
        }
        return Conversions.fromLongs(env, ids, shape, s.elementType(), describe(s));
    }

    private String describe(TensorSpec s) {
        return name + ": input '" + s.name() + "'";
    }

    /** Checks every input against its declaration and returns the shape each is fed with. */
    private Map<String, long[]> checkShapes(Map<String, OrtInputs.Value> given) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Map<String, long[]> symbols = new LinkedHashMap<>(); // symbol -> {value, index of the input that set it}
        List<String> order = new ArrayList<>(inputs.keySet());
        for (TensorSpec s : inputs.values()) {
            OrtInputs.Value v = given.get(s.name());
            int[] shape = v.shape();
            long[] fed;
            if (s.isScalar() && shape.length <= 1) {
                checkScalar(s, v, shape);
                fed = new long[0];
            } else if (s.rank() == 1 && shape.length == 0) {
                fed = new long[] {1};
            } else if (s.rank() != shape.length) {
                throw new InvalidRequestException(name + ": input '" + s.name() + "' expects rank " + s.rank() + " "
                        + s.shape() + ", got rank " + shape.length + " " + Arrays.toString(shape));
            } else {
                fed = new long[shape.length];
                for (int i = 0; i < shape.length; i++) {
                    fed[i] = shape[i];
                }
            }
            for (int i = 0; i < fed.length; i++) {
                Dim d = s.shape().get(i);
                if (d instanceof Dim.Fixed f && f.value() != fed[i]) {
                    throw new InvalidRequestException(name + ": input '" + s.name() + "' expects dimension " + i + " = "
                            + f.value() + " (declared " + s.shape() + "), got " + fed[i] + " (shape " + Arrays.toString(fed) + ")");
                }
                if (d instanceof Dim.Symbolic sym) {
                    long[] seen = symbols.putIfAbsent(sym.name(), new long[] {fed[i], order.indexOf(s.name())});
                    if (seen != null && seen[0] != fed[i]) {
                        throw new InvalidRequestException(name + ": inputs '" + order.get((int) seen[1]) + "' and '" + s.name()
                                + "' must agree on dimension '" + sym.name() + "': " + seen[0] + " vs " + fed[i]);
                    }
                }
            }
            shapes.put(s.name(), fed);
        }
        return shapes;
    }

    private void checkScalar(TensorSpec s, OrtInputs.Value v, int[] shape) {
        if (shape.length == 0) {
            return;
        }
        if (shape[0] == 0) {
            throw new InvalidRequestException(name + ": input '" + s.name() + "' is a scalar; got an empty vector");
        }
        boolean same = true;
        if (v instanceof OrtInputs.Floats f) {
            float first = f.tensor().get(0);
            for (int i = 1; i < shape[0] && same; i++) {
                same = Float.floatToIntBits(f.tensor().get(i)) == Float.floatToIntBits(first);
            }
        } else {
            long[] ids = ((OrtInputs.Ids) v).values();
            for (int i = 1; i < ids.length && same; i++) {
                same = ids[i] == ids[0];
            }
        }
        if (!same) {
            String values = v instanceof OrtInputs.Floats f ? f.tensor().toString()
                    : Arrays.toString(((OrtInputs.Ids) v).values());
            throw new InvalidRequestException(name + ": input '" + s.name() + "' is a scalar (rank 0), so one run takes "
                    + "one value for the whole batch; got different values " + values + ". Run the samples separately "
                    + "(OrtGenerator and OrtEpsilonModel do this by themselves)");
        }
    }

    private static Map<String, TensorSpec> specs(Map<String, NodeInfo> infos, String kind) {
        Map<String, TensorSpec> out = new LinkedHashMap<>();
        for (NodeInfo n : infos.values()) {
            if (!(n.getInfo() instanceof TensorInfo t)) {
                throw new ModelLoadException(kind + " '" + n.getName() + "' is a " + n.getInfo()
                        + "; the SDK runs models whose inputs and outputs are tensors");
            }
            long[] shape = t.getShape();
            String[] names = t.getDimensionNames();
            List<Dim> dims = new ArrayList<>(shape.length);
            for (int i = 0; i < shape.length; i++) {
                if (shape[i] >= 0) {
                    dims.add(Dim.of(shape[i]));
                } else if (names != null && i < names.length && names[i] != null && !names[i].isEmpty()) {
                    dims.add(Dim.symbolic(names[i]));
                } else {
                    dims.add(Dim.unknown());
                }
            }
            out.put(n.getName(), new TensorSpec(n.getName(), Conversions.dataType(t.onnxType), dims));
        }
        return Collections.unmodifiableMap(out);
    }

    /** Closes the session and its options; waits for runs in flight. Closing twice does nothing. */
    @Override
    public void close() {
        guard.close(() -> {
            release();
            onClose.run();
        });
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        return guard.isClosed();
    }

    private void release() {
        buffers.clear();
        try {
            session.close();
        } catch (OrtException e) {
            throw new BackendException(name + ": closing the ONNX Runtime session failed: " + e.getMessage(), e);
        } finally {
            options.close();
        }
    }

    @Override
    public String toString() {
        return "OrtModel{" + name + ", " + executionInfo.active() + ", inputs=" + inputs.values() + ", outputs="
                + outputs.values() + (isClosed() ? ", closed" : "") + "}";
    }
}
