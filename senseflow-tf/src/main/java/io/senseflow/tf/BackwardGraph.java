package io.senseflow.tf;

import io.senseflow.tf.graph.GraphOps;
import io.senseflow.train.Upstream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/**
 * The backward pass of one module for one {@link Upstream} form: the upstream gradient at the output (fed, or
 * computed in the graph from the output for the loss forms, with the loss value), TensorFlow's gradients with
 * respect to the module's parameter reads and differentiable inputs, and the op that adds the parameter gradients
 * to the optimizer's accumulators. Built once per form, on first use.
 *
 * <p>The in-graph forms reproduce {@link io.senseflow.train.UpstreamLoss} operation for operation: the gradient in
 * float32 with the reference's evaluation order, the loss summed in float64.
 */
final class BackwardGraph {
    final Output<?> upstream;
    final Output<?> weights;
    final Output<?> target;
    final Output<?> scale;
    final Output<?> sign;
    final Output<?> negSign;
    final Output<?> loss;
    final Map<String, Output<?>> inputGradients;
    final GraphOperation accumulate;

    private BackwardGraph(Output<?> upstream, Output<?> weights, Output<?> target, Output<?> scale, Output<?> sign,
                          Output<?> negSign, Output<?> loss, Map<String, Output<?>> inputGradients,
                          GraphOperation accumulate) {
        this.upstream = upstream;
        this.weights = weights;
        this.target = target;
        this.scale = scale;
        this.sign = sign;
        this.negSign = negSign;
        this.loss = loss;
        this.inputGradients = inputGradients;
        this.accumulate = accumulate;
    }

    /** Which form; the in-graph forms differ only in how the upstream gradient and loss are computed. */
    enum Form {
        EXPLICIT, LINEAR, MSE, HINGE;

        static Form of(Upstream u) {
            if (u instanceof Upstream.Explicit) {
                return EXPLICIT;
            }
            if (u instanceof Upstream.Linear) {
                return LINEAR;
            }
            if (u instanceof Upstream.Mse) {
                return MSE;
            }
            return HINGE;
        }
    }

    /**
     * @param g where to build
     * @param y the module output (float32)
     * @param form the upstream form
     * @param params parameter reads by name (trainable parameters; empty for input-only modules)
     * @param inputs differentiable module inputs by name
     * @param optimizer the accumulators' owner, or null
     */
    static BackwardGraph build(GraphOps g, Output<?> y, Form form, Map<String, Output<?>> params,
                               Map<String, Output<?>> inputs, TfAdamW optimizer) {
        Shape ys = y.shape();
        int rank = ys.numDimensions();
        Output<?> dy;
        Output<?> upstream = null;
        Output<?> weights = null;
        Output<?> target = null;
        Output<?> scale = null;
        Output<?> sign = null;
        Output<?> negSign = null;
        Output<?> loss = null;
        if (form == Form.EXPLICIT) {
            upstream = g.placeholder(DataType.DT_FLOAT, ys, "upstream");
            dy = upstream;
        } else {
            if (rank < 1) {
                throw new IllegalStateException("in-graph upstream forms need a batch-first output, got shape " + ys);
            }
            weights = g.placeholder(DataType.DT_FLOAT, Shape.of(ys.get(0)), "weights");
            long[] wb = new long[rank];
            java.util.Arrays.fill(wb, 1);
            wb[0] = -1;
            Output<?> w = g.reshape(weights, wb);
            Output<?> w64 = g.cast(w, DataType.DT_DOUBLE);
            Output<?> size = g.op("Size").in(y).attr("out_type", DataType.DT_INT32).out();
            Output<?> n32 = g.cast(size, DataType.DT_FLOAT);
            Output<?> n64 = g.cast(size, DataType.DT_DOUBLE);
            int[] all = new int[rank];
            for (int i = 0; i < rank; i++) {
                all[i] = i;
            }
            Output<?> y64 = g.cast(y, DataType.DT_DOUBLE);
            switch (form) {
                case LINEAR -> {
                    scale = g.placeholder(DataType.DT_DOUBLE, Shape.scalar(), "scale");
                    Output<?> sw = g.binary("Mul", scale, w64);
                    Output<?> coef = g.cast(g.binary("RealDiv", sw, n64), DataType.DT_FLOAT);
                    dy = g.op("BroadcastTo").in(coef).in(g.op("Shape").in(y).attr("out_type", DataType.DT_INT32).out())
                            .out();
                    loss = g.binary("RealDiv", g.reduce("Sum", g.binary("Mul", sw, y64), false, all), n64);
                }
                case MSE -> {
                    target = g.placeholder(DataType.DT_FLOAT, ys, "target");
                    Output<?> d = g.binary("Sub", y, target);
                    dy = g.binary("RealDiv", g.binary("Mul", g.binary("Mul", g.scalar(2f), w), d), n32);
                    Output<?> d64 = g.cast(d, DataType.DT_DOUBLE);
                    loss = g.binary("RealDiv", g.reduce("Sum", g.binary("Mul", g.binary("Mul", w64, d64), d64), false,
                            all), n64);
                }
                default -> {
                    sign = g.placeholder(DataType.DT_FLOAT, Shape.scalar(), "sign");
                    negSign = g.placeholder(DataType.DT_FLOAT, Shape.scalar(), "neg_sign");
                    Output<?> margin = g.binary("Sub", g.scalar(1f), g.binary("Mul", sign, y));
                    Output<?> active = g.binary("Greater", margin, g.scalar(0f));
                    dy = g.select(active, g.binary("RealDiv", g.binary("Mul", negSign, w), n32), g.scalar(0f));
                    Output<?> per = g.select(active, g.binary("Mul", w64, g.cast(margin, DataType.DT_DOUBLE)), g.scalar(0.0));
                    loss = g.binary("RealDiv", g.reduce("Sum", per, false, all), n64);
                }
            }
        }
        Set<String> reach = ancestors(y);
        List<String> names = new ArrayList<>();
        List<Output<?>> xs = new ArrayList<>();
        List<Boolean> isParam = new ArrayList<>();
        params.forEach((k, v) -> {
            if (reach.contains(v.op().name())) {
                names.add(k);
                xs.add(v);
                isParam.add(true);
            }
        });
        inputs.forEach((k, v) -> {
            if (reach.contains(v.op().name())) {
                names.add(k);
                xs.add(v);
                isParam.add(false);
            }
        });
        Map<String, Output<?>> paramGrads = new LinkedHashMap<>();
        Map<String, Output<?>> inputGrads = new LinkedHashMap<>();
        if (!xs.isEmpty()) {
            Graph graph = g.graph();
            Output<?>[] grads = graph.addGradients(g.uniqueName("grad"), new Output<?>[] {y},
                    xs.toArray(new Output<?>[0]), new Output<?>[] {dy});
            for (int i = 0; i < grads.length; i++) {
                if (!hasOp(grads[i])) {
                    continue; // no gradient flows to it (TF Java returns an Output without an op): zero
                }
                (isParam.get(i) ? paramGrads : inputGrads).put(names.get(i), grads[i]);
            }
        }
        GraphOperation acc = optimizer == null ? null : optimizer.accumulate(g.scoped("accumulate"), paramGrads);
        return new BackwardGraph(upstream, weights, target, scale, sign, negSign, loss, inputGrads, acc);
    }

    /**
     * {@code Graph.addGradients} answers an {@code Output} whose op has no native handle where there is no gradient
     * (e.g. through a cast to an integer type); using it fails with "close() has been called on the Graph".
     */
    static boolean hasOp(Output<?> o) {
        if (o == null || o.op() == null) {
            return false;
        }
        try {
            return o.op().name() != null;
        } catch (IllegalStateException | NullPointerException e) {
            return false;
        }
    }

    /** @return names of the ops {@code y} depends on (data edges) */
    static Set<String> ancestors(Output<?> y) {
        Set<String> seen = new HashSet<>();
        Deque<Operation> todo = new ArrayDeque<>();
        todo.push(y.op());
        while (!todo.isEmpty()) {
            GraphOperation op = (GraphOperation) todo.pop();
            if (!seen.add(op.name())) {
                continue;
            }
            for (int i = 0; i < op.numInputs(); i++) {
                todo.push(op.input(i).op());
            }
        }
        return seen;
    }
}
