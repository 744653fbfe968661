package io.senseflow.tf.train;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.importer.OnnxImporter;
import io.senseflow.tf.importer.ImportedGraph;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * The size of a graph's intermediate tensors at given input shapes, from its TensorFlow import: the graph is imported
 * into a scratch graph (ops only, no session, no weights fed) and the statically known output sizes of the computing
 * operations are added up. Weights, their reads, constants and placeholders are not counted (they are counted as
 * parameters). This is the memory a forward pass would need if it kept every intermediate, which is what a backward pass
 * keeps.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param bytes bytes of the intermediate tensors with a static shape
 * @param tensors how many were counted
 * @param unknownTensors how many had a dynamic shape and were not counted (specialise the input shapes to count them)
 */
public record GraphActivations(long bytes, int tensors, int unknownTensors) {
    private static final Set<String> NOT_ACTIVATIONS = Set.of("Const", "VarHandleOp", "ReadVariableOp", "Placeholder",
            "AssignVariableOp", "NoOp", "Identity", "Shape", "Reshape", "Squeeze", "ExpandDims");
    /** ONNX operators whose result depends only on their input's shape (constant when that shape is static). */
    private static final Set<String> SHAPE_ONLY = Set.of("Shape", "Size");
    /** Ops that read only their inputs' shapes. */
    private static final Set<String> METADATA_ONLY = Set.of("Shape", "ShapeN", "Size", "Rank", "ZerosLike",
            "OnesLike", "BroadcastGradientArgs");

    /**
     * @param model the graph
     * @param options import options with the input shapes of interest (e.g. {@link DenoiserSpec#batchShapes})
     * @return the estimate
     */
    public static GraphActivations of(OnnxModel model, ImportOptions options) {
        long bytes = 0;
        int counted = 0;
        int unknown = 0;
        try (Graph g = new Graph()) {
            new OnnxImporter(model, options).importInto(g, "estimate");
            var ops = g.operations();
            while (ops.hasNext()) {
                GraphOperation op = ops.next();
                if (NOT_ACTIVATIONS.contains(op.type())) {
                    continue; // views, weights and inputs: no new memory of their own
                }
                for (int i = 0; i < op.numOutputs(); i++) {
                    DataType dt = op.output(i).dataType();
                    int width = width(dt);
                    if (width == 0) {
                        continue;
                    }
                    Shape s = op.output(i).shape();
                    if (s.isUnknown() || s.hasUnknownDimension()) {
                        unknown++;
                        continue;
                    }
                    bytes += s.size() * width;
                    counted++;
                }
            }
        }
        return new GraphActivations(bytes, counted, unknown);
    }

    /**
     * What a forward + backward pass of a graph holds, counted on its gradient graph rather than as a fraction of the
     * forward: the graph is imported into a scratch graph with {@code options} (its trainable initializers become
     * variables; without any, the gradient is taken with respect to its floating-point inputs), TensorFlow's gradient
     * of its first output is added, and every forward intermediate that a gradient op reads is counted once (through
     * views such as {@code Reshape} and {@code Identity}, to the tensor that owns the memory). These are the tensors
     * alive when the forward ends and the backward starts, which is where a pass's peak is: TensorFlow frees every other
     * intermediate as soon as its last forward consumer has run.
     *
     * @param model the graph
     * @param options import options with the input shapes of interest and the trainable selection of the run
     * @return the counts
     */
    public static Backward backward(OnnxModel model, ImportOptions options) {
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(model, options).importInto(g, "estimate");
            Output<?> y = ig.outputs().values().iterator().next();
            List<Output<?>> xs = new ArrayList<>(ig.variableReads().values());
            if (xs.isEmpty()) {
                for (Output<?> in : ig.inputs().values()) {
                    if (width(in.dataType()) > 0 && in.dataType() != DataType.DT_INT32 && in.dataType() != DataType.DT_INT64
                            && in.dataType() != DataType.DT_BOOL) {
                        xs.add(in);
                    }
                }
            }
            int forwardOps = 0;
            Set<String> forward = new HashSet<>();
            var it = g.operations();
            while (it.hasNext()) {
                forward.add(it.next().name());
                forwardOps++;
            }
            long forwardBytes = 0;
            long largest = 0;
            it = g.operations();
            while (it.hasNext()) {
                GraphOperation op = it.next();
                if (!NOT_ACTIVATIONS.contains(op.type())) {
                    for (int i = 0; i < op.numOutputs(); i++) {
                        long b = bytes(op.output(i));
                        forwardBytes += b;
                        largest = Math.max(largest, b);
                    }
                }
            }
            long frozenBytes = frozenForwardBytes(g, model, "estimate", options.foldLimitBytes());
            if (xs.isEmpty()) {
                return new Backward(forwardBytes, 0, largest, forwardOps, forwardOps, frozenBytes);
            }
            Output<?> dy = io.senseflow.tf.graph.GraphOps.of(g, "estimate_upstream").placeholder(y.dataType(),
                    y.shape(), "dy");
            g.addGradients("estimate_grad", new Output<?>[] {y}, xs.toArray(new Output<?>[0]), new Output<?>[] {dy});
            // the gradient ops that wait for the upstream gradient: only their forward inputs outlive the forward
            // (the others, e.g. the Shape ops of broadcasting gradients, run as soon as their inputs exist)
            java.util.Map<String, List<GraphOperation>> consumers = new java.util.HashMap<>();
            int allOps = 0;
            it = g.operations();
            while (it.hasNext()) {
                GraphOperation op = it.next();
                allOps++;
                for (int i = 0; i < op.numInputs(); i++) {
                    consumers.computeIfAbsent(op.input(i).op().name(), k -> new ArrayList<>()).add(op);
                }
            }
            Set<String> waiting = new HashSet<>();
            java.util.ArrayDeque<GraphOperation> todo = new java.util.ArrayDeque<>();
            todo.add((GraphOperation) dy.op());
            while (!todo.isEmpty()) {
                GraphOperation op = todo.poll();
                if (waiting.add(op.name())) {
                    todo.addAll(consumers.getOrDefault(op.name(), List.of()));
                }
            }
            Set<String> kept = new HashSet<>();
            long keptBytes = 0;
            it = g.operations();
            while (it.hasNext()) {
                GraphOperation op = it.next();
                if (!waiting.contains(op.name()) || METADATA_ONLY.contains(op.type())) {
                    continue;
                }
                for (int i = 0; i < op.numInputs(); i++) {
                    Output<?> in = owner(op.input(i));
                    if (!forward.contains(in.op().name()) || NOT_ACTIVATIONS.contains(in.op().type())) {
                        continue;
                    }
                    if (kept.add(in.op().name() + ":" + in.index())) {
                        keptBytes += bytes(in);
                    }
                }
            }
            return new Backward(forwardBytes, keptBytes, largest, forwardOps, allOps, frozenBytes);
        }
    }

    /**
     * The forward intermediates a frozen import of the same graph would compute at run time (what {@link #of} counts
     * with frozen options). A frozen import evaluates every ONNX node whose inputs are all constants (initializers,
     * values this import made constant too, such as a static {@code Shape}, and results of such nodes) once, at
     * import, unless a result is over the fold limit; here the trainable weights are variables, so those nodes were
     * imported as ops (a transposed weight, a reshaped kernel, a slice of a position table). Their ops, found by the
     * node's scope in the op names, are left out; every other op is counted as {@link #of} counts it (a node's own
     * helper ops on constants, which both imports emit, included).
     */
    private static long frozenForwardBytes(Graph g, OnnxModel model, String scope, long foldLimitBytes) {
        Set<String> labels = new HashSet<>(); // the nodes' scopes, to find an op's node
        for (OnnxNode n : model.graph().nodes()) {
            labels.add(label(n));
        }
        // each computing op's node, and the largest output of each node's ops
        Map<GraphOperation, String> nodeOf = new java.util.LinkedHashMap<>();
        Map<String, Long> largest = new HashMap<>();
        Set<String> withOps = new HashSet<>(); // nodes imported as ops other than constants
        var it = g.operations();
        while (it.hasNext()) {
            GraphOperation op = it.next();
            String node = null;
            if (op.name().startsWith(scope + "/")) {
                String path = op.name().substring(scope.length() + 1);
                for (int cut = path.lastIndexOf('/'); cut > 0 && node == null; cut = path.lastIndexOf('/', cut - 1)) {
                    node = labels.contains(path.substring(0, cut)) ? path.substring(0, cut) : null;
                }
            }
            if (node != null && !op.type().equals("Const")) {
                withOps.add(node);
            }
            if (NOT_ACTIVATIONS.contains(op.type())) {
                continue;
            }
            nodeOf.put(op, node);
            long b = 0;
            for (int i = 0; i < op.numOutputs(); i++) {
                b = Math.max(b, bytes(op.output(i)));
            }
            if (node != null) {
                largest.merge(node, b, Math::max);
            }
        }
        Set<String> constant = new HashSet<>();
        model.graph().initializers().forEach(t -> constant.add(t.name()));
        Set<String> folded = new HashSet<>();
        for (OnnxNode n : model.graph().nodes()) {
            boolean allConstant = true;
            for (String in : n.inputs()) {
                allConstant &= in.isEmpty() || constant.contains(in);
            }
            String label = label(n);
            if (!withOps.contains(label) && (allConstant || SHAPE_ONLY.contains(n.opType()))) {
                constant.addAll(n.outputs()); // evaluated by this import too (a static shape, a constant)
                continue;
            }
            if (!allConstant) {
                continue;
            }
            if (largest.getOrDefault(label, 0L) > foldLimitBytes) {
                continue; // a result over the limit: imported as ops by a frozen import as well
            }
            folded.add(label);
            constant.addAll(n.outputs());
        }
        long bytes = 0;
        for (Map.Entry<GraphOperation, String> e : nodeOf.entrySet()) {
            if (e.getValue() != null && folded.contains(e.getValue())) {
                continue;
            }
            GraphOperation op = e.getKey();
            for (int i = 0; i < op.numOutputs(); i++) {
                bytes += bytes(op.output(i));
            }
        }
        return bytes;
    }

    /** The scope the importer gives a node's ops (under the import's own scope). */
    private static String label(OnnxNode n) {
        return io.senseflow.tf.graph.TfNames.sanitize(n.name().isEmpty()
                ? n.outputs().isEmpty() ? "(unnamed)" : n.outputs().get(0) : n.name());
    }

    /** Follows views (reshapes, identities) back to the tensor that owns the memory. */
    private static Output<?> owner(Output<?> o) {
        Output<?> cur = o;
        for (int guard = 0; guard < 64; guard++) {
            GraphOperation op = (GraphOperation) cur.op();
            String t = op.type();
            if (!(t.equals("Identity") || t.equals("Reshape") || t.equals("Squeeze") || t.equals("ExpandDims"))
                    || op.numInputs() == 0) {
                return cur;
            }
            cur = op.input(0);
        }
        return cur;
    }

    private static long bytes(Output<?> o) {
        int w = width(o.dataType());
        Shape s = o.shape();
        if (w == 0 || s.isUnknown() || s.hasUnknownDimension()) {
            return 0;
        }
        return s.size() * w;
    }

    /**
     * The counts of a forward + backward pass ({@link #backward}).
     *
     * @param forwardBytes every statically known forward intermediate (what {@link #of} counts with the same options)
     * @param keptBytes the forward intermediates the gradient ops read: held when the backward starts
     * @param largestTensorBytes the largest single forward intermediate
     * @param forwardOps operations of the imported forward graph
     * @param totalOps operations of the forward and gradient graph together
     * @param frozenForwardBytes the forward intermediates a frozen import of the graph computes per pass (what
     *     {@link #of} counts with frozen options): {@code forwardBytes} less the ops of nodes that a frozen import
     *     folds because their inputs are all weights or constants; e.g. a frozen teacher's pass
     */
    public record Backward(long forwardBytes, long keptBytes, long largestTensorBytes, int forwardOps, int totalOps,
                           long frozenForwardBytes) {
        /**
         * Counts without a separate frozen count (taken as {@code forwardBytes}).
         *
         * @param forwardBytes every statically known forward intermediate
         * @param keptBytes the forward intermediates the gradient ops read
         * @param largestTensorBytes the largest single forward intermediate
         * @param forwardOps operations of the imported forward graph
         * @param totalOps operations of the forward and gradient graph together
         */
        public Backward(long forwardBytes, long keptBytes, long largestTensorBytes, int forwardOps, int totalOps) {
            this(forwardBytes, keptBytes, largestTensorBytes, forwardOps, totalOps, forwardBytes);
        }
    }

    private static int width(DataType dt) {
        return switch (dt) {
            case DT_FLOAT, DT_INT32 -> 4;
            case DT_DOUBLE, DT_INT64 -> 8;
            case DT_HALF, DT_BFLOAT16 -> 2;
            case DT_BOOL, DT_UINT8, DT_INT8 -> 1;
            default -> 0;
        };
    }
}
