package io.senseflow.tf.testing;

import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.importer.ImportedGraph;
import io.senseflow.tf.importer.OnnxImporter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.tensorflow.Graph;
import org.tensorflow.Output;
import org.tensorflow.Session;

/**
 * Finite-difference check of TensorFlow's gradients through an imported float64 graph: the analytic
 * vector-Jacobian product {@code d sum(w * y) / dx} (from {@code Graph.addGradients} with initial gradient w)
 * against central differences.
 */
public final class GradCheck {
    private GradCheck() {
    }

    /**
     * @param model float64 model
     * @param inputs its inputs
     * @param output the output to differentiate
     * @param wrt float inputs to differentiate with respect to
     * @param tol tolerance (absolute and relative)
     * @return the largest absolute difference seen
     */
    public static double check(OnnxModel model, Map<String, TensorValue> inputs, String output, List<String> wrt,
                               double tol) {
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(model, ImportOptions.defaults()).importInto(g, "m");
            Output<?> y = ig.output(output);
            long[] ys;
            try (Session probe = new Session(g)) {
                ig.initializeVariables(probe);
                ys = TfRun.run(probe, ig, inputs, List.of(y), List.of("y")).get("y").dims();
            }
            int n = 1;
            for (long d : ys) {
                n *= (int) d;
            }
            Random r = new Random(11);
            double[] w = new double[n];
            for (int i = 0; i < n; i++) {
                w[i] = r.nextDouble() * 2 - 1;
            }
            GraphOps ops = GraphOps.of(g, "check");
            Output<?> dy = ops.constant(TensorValue.ofDoubles("w", w, ys));
            Output<?> loss = ops.reduce("Sum", ops.binary("Mul", y, dy), false, range(ys.length));
            Output<?>[] xs = new Output<?>[wrt.size()];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = ig.input(wrt.get(i));
            }
            Output<?>[] grads = g.addGradients("grad", new Output<?>[] {y}, xs, new Output<?>[] {dy});
            double worst = 0;
            try (Session s = new Session(g)) {
                ig.initializeVariables(s);
                List<Output<?>> fetch = new ArrayList<>(List.of(grads));
                List<String> names = new ArrayList<>(wrt);
                Map<String, TensorValue> analytic = TfRun.run(s, ig, inputs, fetch, names);
                for (String x : wrt) {
                    double[] a = Compare.doubles(analytic.get(x));
                    TensorValue base = inputs.get(x);
                    double[] v = Compare.doubles(base);
                    int checks = Math.min(v.length, 48);
                    for (int c = 0; c < checks; c++) {
                        int i = v.length <= 48 ? c : r.nextInt(v.length);
                        double h = 1e-6 * Math.max(1, Math.abs(v[i]));
                        double fp = eval(s, ig, inputs, x, v, i, v[i] + h, loss);
                        double fm = eval(s, ig, inputs, x, v, i, v[i] - h, loss);
                        double num = (fp - fm) / (2 * h);
                        double d = Math.abs(num - a[i]);
                        worst = Math.max(worst, d);
                        if (d > tol * (1 + Math.abs(num))) {
                            throw new AssertionError("d" + output + "/d" + x + "[" + i + "]: analytic " + a[i]
                                    + ", finite difference " + num);
                        }
                    }
                }
            }
            return worst;
        }
    }

    private static double eval(Session s, ImportedGraph ig, Map<String, TensorValue> inputs, String x, double[] base,
                               int i, double value, Output<?> loss) {
        double[] v = base.clone();
        v[i] = value;
        Map<String, TensorValue> in = new LinkedHashMap<>(inputs);
        in.put(x, TensorValue.ofDoubles(x, v, inputs.get(x).dims()));
        TensorValue out = TfRun.run(s, ig, in, List.of(loss), List.of("loss")).get("loss");
        return Compare.doubles(out)[0];
    }

    private static int[] range(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = i;
        }
        return a;
    }
}
