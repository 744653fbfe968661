package io.senseflow.tf.importer;

import io.senseflow.SenseFlowException;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import io.senseflow.tf.graph.DataTypes;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfVariable;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * Imports an ONNX graph into a TensorFlow graph (DESIGN.md, "Models are ONNX graphs"): one handler per operator
 * from one table, float initializers as variables initialised by feeding, everything computable at import folded
 * to constants (never a subgraph fed by a trainable initializer), names sanitised with a map back.
 *
 * <p>Only the nodes needed for the requested outputs are imported. Graph inputs become placeholders with the
 * declared or specialised shape, unless the caller provides TensorFlow outputs for them.
 *
 * <p>Not thread-safe: one import at a time, from one thread.
 */
public final class OnnxImporter {
    private static final Logger LOG = LoggerFactory.getLogger(OnnxImporter.class);

    private final OnnxModel model;
    private final OnnxGraph onnx;
    private final ImportOptions options;
    private final long opset;
    private final Map<String, TensorValue> initializers = new HashMap<>();
    private final Map<String, ValueInfo> declaredInputs = new LinkedHashMap<>();

    /**
     * @param model the model
     * @param options import settings
     */
    public OnnxImporter(OnnxModel model, ImportOptions options) {
        this.model = model;
        this.onnx = model.graph();
        this.options = options;
        this.opset = defaultOpset(model);
        for (TensorValue t : onnx.initializers()) {
            initializers.put(t.name(), t);
        }
        for (ValueInfo in : onnx.inputs()) {
            if (!initializers.containsKey(in.name())) {
                declaredInputs.put(in.name(), in);
            }
        }
        for (Map.Entry<String, TensorValue> e : options.constantInputs().entrySet()) {
            ValueInfo in = declaredInputs.get(e.getKey());
            if (in == null) {
                throw new OnnxImportException("ONNX import: input '" + e.getKey() + "' was bound to a constant, but the"
                        + " graph's inputs are " + declaredInputs.keySet());
            }
            TensorValue t = e.getValue();
            if (t.dataType() != in.elementType()) {
                throw new OnnxImportException("ONNX import: input '" + e.getKey() + "' is declared " + in.elementType()
                        + ", but the constant bound to it is " + t.dataType());
            }
            List<Dim> dims = in.shape();
            if (dims != null) {
                boolean fits = dims.size() == t.dims().length;
                for (int i = 0; fits && i < dims.size(); i++) {
                    fits = !(dims.get(i) instanceof Dim.Fixed f) || f.value() == t.dims()[i];
                }
                if (!fits) {
                    throw new OnnxImportException("ONNX import: input '" + e.getKey() + "' is declared " + dims
                            + ", but the constant bound to it has shape " + Arrays.toString(t.dims()));
                }
            }
            if (options.specialisedInputs().contains(e.getKey())) {
                throw new OnnxImportException("ONNX import: input '" + e.getKey() + "' was given both a shape and a"
                        + " constant value; give one");
            }
        }
        for (String s : options.specialisedInputs()) {
            if (!declaredInputs.containsKey(s)) {
                throw new OnnxImportException("ONNX import: a shape was given for input '" + s + "', but the graph's"
                        + " inputs are " + declaredInputs.keySet());
            }
        }
    }

    private static long defaultOpset(OnnxModel model) {
        var v = model.opsetVersion("");
        if (v.isEmpty()) {
            v = model.opsetVersion("ai.onnx");
        }
        if (v.isEmpty()) {
            throw new OnnxImportException("ONNX import: the model imports no default-domain opset ("
                    + model.opsetImports() + ")");
        }
        return v.getAsLong();
    }

    /** @return the operators the importer handles (default domain), sorted */
    public static Set<String> supportedOperators() {
        return OpTable.supported();
    }

    /** @return the declared graph inputs (initializers excluded) */
    public Map<String, ValueInfo> declaredInputs() {
        return declaredInputs;
    }

    /**
     * Imports into {@code graph} under {@code scope} with placeholders for every input and new variables.
     *
     * @param graph the target graph
     * @param scope name scope for the imported ops
     * @return the imported graph
     */
    public ImportedGraph importInto(Graph graph, String scope) {
        return importInto(graph, scope, Map.of(), new LinkedHashMap<>());
    }

    /**
     * Imports into {@code graph} under {@code scope}.
     *
     * @param graph the target graph
     * @param scope name scope for the imported ops
     * @param providedInputs TensorFlow outputs to use for some graph inputs (by original name) instead of placeholders
     * @param variables variables by original name: those present are reused (same dtype and shape required), new
     *     ones are added; pass the same map to import the graph again (e.g. for another input shape) over shared
     *     variables
     * @return the imported graph
     */
    public ImportedGraph importInto(Graph graph, String scope, Map<String, Output<?>> providedInputs,
                                    Map<String, TfVariable> variables) {
        CustomGradients.ensureRegistered();
        for (String name : providedInputs.keySet()) {
            if (options.constantInput(name) != null) {
                throw new OnnxImportException("ONNX import: an output was provided for input '" + name
                        + "', which is bound to a constant (ImportOptions.constantInput)");
            }
            if (!declaredInputs.containsKey(name)) {
                throw new OnnxImportException("ONNX import: an output was provided for input '" + name
                        + "', but the graph's inputs are " + declaredInputs.keySet());
            }
        }
        GraphOps root = GraphOps.of(graph, scope);
        List<String> wanted = options.outputs().isEmpty()
                ? onnx.outputs().stream().map(ValueInfo::name).toList() : options.outputs();
        Map<String, String> untied = untiedIdentities();
        List<OnnxNode> nodes = neededNodes(wanted, untied);
        for (OnnxNode n : nodes) {
            if (!n.domain().isEmpty() && !n.domain().equals("ai.onnx")) {
                throw new UnsupportedOperatorException(n.opType(), n.domain(), NodeContext.label(n),
                        model.opsetVersion(n.domain()).orElse(0), "the default ONNX domain only");
            }
            if (OpTable.get(n.opType()) == null) {
                throw new UnsupportedOperatorException(n.opType(), "", NodeContext.label(n), opset,
                        String.join(", ", OpTable.supported()));
            }
        }
        Run run = new Run(root, providedInputs, variables, untied);
        try (ConstantFolder folder = new ConstantFolder(options.foldLimitBytes(), options.float64())) {
            for (OnnxNode n : nodes) {
                run.node(n, folder);
            }
        }
        Map<String, Output<?>> outputs = new LinkedHashMap<>();
        GraphOps outOps = root.scoped("outputs");
        for (String name : wanted) {
            Value v = run.value(name, null);
            Output<?> o = run.materialize(v, outOps);
            Output<?> named = outOps.op("Identity", name).in(o).out();
            outputs.put(name, named);
            run.names.put(named.op().name(), name);
        }
        ImportedGraph result = new ImportedGraph(graph, root.scope(), run.inputs, outputs, run.used, run.reads, run.names,
                run.imported, run.folded, opset, run.bfloat16Products, run.float32Fallbacks);
        LOG.debug("{}", result);
        return result;
    }

    /** Identity nodes that re-export a float initializer under another name (PyTorch's dedup of equal values). */
    private Map<String, String> untiedIdentities() {
        Map<String, String> m = new HashMap<>();
        if (!options.untieSharedParameters()) {
            return m;
        }
        for (OnnxNode n : onnx.nodes()) {
            if (n.opType().equals("Identity") && n.domain().isEmpty() && n.inputs().size() == 1
                    && n.outputs().size() == 1) {
                TensorValue src = initializers.get(n.inputs().get(0));
                String out = n.outputs().get(0);
                if (src != null && src.dataType().isFloatingPoint() && !initializers.containsKey(out)) {
                    m.put(out, src.name());
                }
            }
        }
        return m;
    }

    private List<OnnxNode> neededNodes(List<String> wanted, Map<String, String> untied) {
        Map<String, OnnxNode> producer = new HashMap<>();
        for (OnnxNode n : onnx.nodes()) {
            for (String o : n.outputs()) {
                if (!o.isEmpty()) {
                    producer.put(o, n);
                }
            }
        }
        Set<OnnxNode> needed = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>(wanted);
        Set<String> seen = new HashSet<>();
        while (!todo.isEmpty()) {
            String v = todo.pop();
            if (v.isEmpty() || !seen.add(v) || initializers.containsKey(v) || declaredInputs.containsKey(v)
                    || untied.containsKey(v)) {
                continue;
            }
            OnnxNode n = producer.get(v);
            if (n == null) {
                throw new OnnxImportException("ONNX import: value '" + v + "' is neither a graph input, an initializer nor"
                        + " a node output");
            }
            if (needed.add(n)) {
                todo.addAll(n.inputs());
            }
        }
        List<OnnxNode> ordered = new ArrayList<>();
        for (OnnxNode n : onnx.nodes()) {
            if (needed.contains(n)) {
                ordered.add(n);
            }
        }
        return ordered;
    }

    /** The state of one import. */
    private final class Run implements NodeContext.Materializer {
        final GraphOps root;
        final GraphOps constOps;
        final Map<String, Output<?>> provided;
        final Map<String, TfVariable> variables;
        final Map<String, String> untied;
        final Map<String, Value> env = new HashMap<>();
        final Map<String, Output<?>> inputs = new LinkedHashMap<>();
        final Map<String, Output<?>> reads = new LinkedHashMap<>();
        final List<TfVariable> used = new ArrayList<>();
        final Map<String, String> names = new LinkedHashMap<>();
        int imported;
        int folded;
        int bfloat16Products;
        int float32Fallbacks;

        Run(GraphOps root, Map<String, Output<?>> provided, Map<String, TfVariable> variables, Map<String, String> untied) {
            this.root = root;
            this.constOps = root.scoped("const");
            this.provided = provided;
            this.variables = variables;
            this.untied = untied;
        }

        Value value(String name, OnnxNode consumer) {
            Value v = env.get(name);
            if (v != null) {
                return v;
            }
            if (options.constantInput(name) != null) {
                v = Value.constant(OnnxImporter.this.widen(options.constantInput(name)));
            } else if (declaredInputs.containsKey(name)) {
                v = Value.of(input(name));
            } else if (initializers.containsKey(name) || untied.containsKey(name)) {
                TensorValue t = untied.containsKey(name) ? initializers.get(untied.get(name)).withName(name)
                        : initializers.get(name);
                v = initializer(OnnxImporter.this.widen(t));
            } else {
                throw new OnnxImportException("ONNX import: value '" + name + "' used by node '"
                        + (consumer == null ? "(graph output)" : NodeContext.label(consumer)) + "' is not defined");
            }
            env.put(name, v);
            return v;
        }

        Output<?> input(String name) {
            Output<?> p = provided.get(name);
            ValueInfo info = declaredInputs.get(name);
            DataType dt = tfType(info.elementType(), "graph input '" + name + "'");
            if (dt == DataType.DT_FLOAT && options.float64()) {
                dt = DataType.DT_DOUBLE;
            }
            if (p == null) {
                long[] shape = options.inputShape(name);
                if (shape == null) {
                    shape = declaredShape(info);
                } else if (info.shape() != null && info.shape().size() != shape.length) {
                    throw new OnnxImportException("ONNX import: input '" + name + "' has rank " + info.shape().size()
                            + " (" + info.shape() + "), but the specialised shape " + Arrays.toString(shape)
                            + " has rank " + shape.length);
                }
                p = root.scoped("inputs").placeholder(dt, shape == null ? Shape.unknown() : Shape.of(shape), name);
                names.put(p.op().name(), name);
            } else if (p.dataType() != dt) {
                throw new OnnxImportException("ONNX import: input '" + name + "' is " + DataTypes.name(dt)
                        + ", but the provided output is " + DataTypes.name(p.dataType()));
            }
            inputs.put(name, p);
            return p;
        }

        Value initializer(TensorValue t) {
            boolean floating = t.dataType().isFloatingPoint();
            if (!floating || !options.isTrainable(t.name())) {
                Output<?> shared = floating ? options.sharedInitializer(t.name()) : null;
                if (shared == null) {
                    return Value.constant(t);
                }
                DataType want = tfType(t.dataType(), "initializer '" + t.name() + "'");
                boolean storedBfloat16 = want == DataType.DT_FLOAT && shared.dataType() == DataType.DT_BFLOAT16;
                if (!storedBfloat16 && shared.dataType() != want || !Arrays.equals(shared.shape().asArray(), t.dims())) {
                    throw new OnnxImportException("ONNX import: initializer '" + t.name() + "' is "
                            + DataTypes.name(want) + Arrays.toString(t.dims()) + ", but its shared value is "
                            + DataTypes.name(shared.dataType()) + shared.shape());
                }
                names.put(shared.op().name(), t.name());
                if (storedBfloat16) {
                    // a bfloat16 shared base: float32 at use, the stored tensor for bfloat16 products
                    Value v = Value.of(root.scoped("reads").cast(shared, DataType.DT_FLOAT));
                    v.setBfloat16(shared);
                    return v;
                }
                return Value.of(shared);
            }
            DataType dt = tfType(t.dataType(), "initializer '" + t.name() + "'");
            TfVariable var = variables.get(t.name());
            if (var == null) {
                var = TfVariable.create(root.scoped("vars"), t.name(), t.name(), dt, t.dims(), true, t);
                variables.put(t.name(), var);
            } else if (var.dtype() != dt || !Arrays.equals(var.shape(), t.dims())) {
                throw new OnnxImportException("ONNX import: initializer '" + t.name() + "' is " + DataTypes.name(dt)
                        + Arrays.toString(t.dims()) + ", but the shared variable is " + DataTypes.name(var.dtype())
                        + Arrays.toString(var.shape()));
            }
            used.add(var);
            names.put(var.tfName(), t.name());
            Output<?> read = var.read(root.scoped("reads"));
            reads.put(t.name(), read);
            return Value.of(read);
        }

        @Override
        public Output<?> materialize(Value v, GraphOps where) {
            if (v.output() != null) {
                return v.output();
            }
            TensorValue t = v.constant();
            boolean bf16 = options.frozenBfloat16() && t.dataType() == io.senseflow.onnx.ir.DataType.FLOAT
                    && t.elementCount() >= ImportOptions.FROZEN_BFLOAT16_MIN_ELEMENTS;
            if (bf16) {
                t = TensorValue.ofBfloat16(t.name(), t.toFloats(), t.dims());
            }
            Output<?> out;
            if (t.byteSize() <= options.inlineConstantBytes()) {
                out = constOps.constant(t);
            } else {
                String key = "frozen:" + t.name() + Arrays.toString(t.dims());
                TfVariable var = variables.get(key);
                if (var != null && !sameBytes(var.initialValue(), t)) {
                    var = null; // a folded value that differs in this import (another input shape): a new variable
                    key = key + "#" + variables.size();
                }
                if (var == null) {
                    var = TfVariable.create(root.scoped("frozen"), t.name(), t.name(),
                            bf16 ? DataType.DT_BFLOAT16 : v.dtype(), t.dims(), false, t);
                    variables.put(key, var);
                }
                used.add(var);
                names.put(var.tfName(), t.name());
                out = var.read(root.scoped("reads"));
            }
            if (bf16) {
                v.setBfloat16(out);
                out = root.scoped("reads").cast(out, DataType.DT_FLOAT); // stored bfloat16, computed in float32
            }
            v.setOutput(out);
            return out;
        }

        @Override
        public Output<?> bfloat16Weight(Value v, GraphOps where) {
            if (!options.computeBfloat16()) {
                return null;
            }
            if (v.isConstant()) {
                materialize(v, where);
            }
            return v.bfloat16();
        }

        @Override
        public void countBfloat16(boolean inBfloat16) {
            if (inBfloat16) {
                bfloat16Products++;
            } else {
                float32Fallbacks++;
            }
        }

        void node(OnnxNode n, ConstantFolder folder) {
            if (n.opType().equals("Identity") && untied.containsKey(n.outputs().get(0))) {
                value(n.outputs().get(0), n);
                return;
            }
            OpHandler h = OpTable.get(n.opType());
            List<Value> ins = new ArrayList<>();
            boolean allConstant = !n.inputs().isEmpty();
            for (String i : n.inputs()) {
                if (i.isEmpty()) {
                    ins.add(null);
                    continue;
                }
                Value v = value(i, n);
                ins.add(v);
                allConstant &= v.isConstant();
            }
            Value[] out = null;
            PartialFold.Known[] known = null;
            try {
                if (allConstant) {
                    out = folder.fold(h, n, opset, ins);
                    if (out != null) {
                        folded++;
                    }
                } else if (PartialFold.applies(n, ins)) {
                    known = PartialFold.evaluate(h, n, opset, ins, folder);
                    out = PartialFold.ifAllKnown(known);
                    if (out != null) {
                        folded++;
                    }
                }
                if (out == null) {
                    NodeContext ctx = new NodeContext(n, opset, root.scoped(NodeContext.label(n)), ins, this,
                            options.float64());
                    out = h.apply(ctx);
                    if (java.util.Arrays.stream(out).allMatch(v -> v == null || v.isConstant())) {
                        folded++; // Constant, Shape of a static shape, ...
                    } else {
                        imported++;
                    }
                    out = PartialFold.attach(out, known);
                }
                if (options.float64()) {
                    out = widenAll(out, root.scoped(NodeContext.label(n)));
                }
            } catch (OnnxImportException e) {
                throw e;
            } catch (SenseFlowException | IllegalArgumentException | IllegalStateException e) {
                throw new OnnxImportException("ONNX import: " + n.opType() + " (opset " + opset + ") at node '"
                        + NodeContext.label(n) + "' with inputs " + describe(n, ins) + ": " + e.getMessage(), e);
            }
            for (int k = 0; k < n.outputs().size(); k++) {
                String name = n.outputs().get(k);
                if (name.isEmpty()) {
                    continue;
                }
                if (k >= out.length || out[k] == null) {
                    throw new OnnxImportException("ONNX import: " + n.opType() + " at node '" + NodeContext.label(n)
                            + "': output " + k + " ('" + name + "') is not produced by the importer");
                }
                env.put(name, out[k]);
            }
        }

        /** float64 imports: float32 results (a Constant, ConstantOfShape's fill value) become float64. */
        private Value[] widenAll(Value[] out, GraphOps where) {
            Value[] w = out.clone();
            for (int k = 0; k < w.length; k++) {
                Value v = w[k];
                if (v == null || v.dtype() != DataType.DT_FLOAT) {
                    continue;
                }
                w[k] = v.isConstant() ? Value.constant(OnnxImporter.this.widen(v.constant()))
                        : Value.of(where.cast(v.output(), DataType.DT_DOUBLE));
            }
            return w;
        }

        private String describe(OnnxNode n, List<Value> ins) {
            List<String> parts = new ArrayList<>();
            for (int i = 0; i < ins.size(); i++) {
                parts.add(n.inputs().get(i) + ": " + (ins.get(i) == null ? "absent" : ins.get(i).toString()));
            }
            return parts.toString();
        }
    }

    /** @return t as float64 when importing in float64 and t is float32, else t */
    private TensorValue widen(TensorValue t) {
        if (!options.float64() || t.dataType() != io.senseflow.onnx.ir.DataType.FLOAT) {
            return t;
        }
        float[] f = t.toFloats();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return TensorValue.ofDoubles(t.name(), d, t.dims());
    }

    private static boolean sameBytes(TensorValue a, TensorValue b) {
        return a == b || a.dataType() == b.dataType() && Arrays.equals(a.dims(), b.dims()) && a.bytes().equals(b.bytes());
    }

    private static DataType tfType(io.senseflow.onnx.ir.DataType t, String what) {
        try {
            return DataTypes.toTf(t, what);
        } catch (io.senseflow.InvalidRequestException e) {
            throw new OnnxImportException("ONNX import: " + e.getMessage(), e);
        }
    }

    private static long[] declaredShape(ValueInfo info) {
        List<Dim> dims = info.shape();
        if (dims == null) {
            return null;
        }
        long[] s = new long[dims.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = dims.get(i) instanceof Dim.Fixed f ? f.value() : -1;
        }
        return s;
    }
}
