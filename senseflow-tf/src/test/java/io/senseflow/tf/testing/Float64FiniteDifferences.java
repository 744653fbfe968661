package io.senseflow.tf.testing;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.tf.graph.TfTensors;
import io.senseflow.tf.graph.TfVariable;
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
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.Tensor;

/**
 * Gradients of a real imported graph checked against central finite differences computed in float64: the graph is
 * imported twice, as exported (float32) and with {@link ImportOptions#float64()}; the loss is {@code sum(w * y)}
 * with fixed random weights {@code w}. For chosen elements of chosen inputs and parameters, the float32 analytic
 * gradient (TensorFlow's {@code addGradients}) and the float64 analytic gradient are compared with
 * {@code (L(v + h) - L(v - h)) / 2h} evaluated in float64 (a parameter is perturbed by feeding its variable read).
 * Errors are relative to the largest finite difference of each target.
 */
public final class Float64FiniteDifferences {
    private Float64FiniteDifferences() {
    }

    /**
     * @param target an input or parameter (original name)
     * @param parameter whether it is a parameter
     * @param float32Error max |float32 analytic - FD| / max |FD| over its checked elements
     * @param float64Error the same for the float64 analytic gradient
     * @param scale max |FD|
     */
    public record Target(String target, boolean parameter, double float32Error, double float64Error, double scale) {
    }

    /**
     * @param model the model
     * @param options import options (trainable; shapes specialised)
     * @param inputs float32 inputs (and integer ones) by name
     * @param output the output to differentiate
     * @param wrtInputs float inputs to check
     * @param parameters how many parameters to check (spread over the trainable ones), or explicit names in
     *     {@code extraParameters}
     * @param extraParameters parameters checked in any case
     * @param elements elements checked per target
     * @return one line per target
     */
    public static List<Target> check(OnnxModel model, ImportOptions options, Map<String, TensorValue> inputs,
                                     String output, List<String> wrtInputs, int parameters, List<String> extraParameters,
                                     int elements) {
        Random r = new Random(2026);
        List<String> params = new ArrayList<>();
        Map<String, float[]> analytic32 = new LinkedHashMap<>();
        double[] w;
        long[] ys;
        Map<String, TensorValue> initial = new LinkedHashMap<>();
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(model, options).importInto(g, "m");
            List<TfVariable> vars = ig.trainableVariables();
            for (int k = 0; k < parameters && !vars.isEmpty(); k++) {
                String n = vars.get((int) ((long) k * (vars.size() - 1) / Math.max(1, parameters - 1))).originalName();
                if (!params.contains(n)) {
                    params.add(n);
                }
            }
            for (String n : extraParameters) {
                if (!params.contains(n)) {
                    params.add(n);
                }
            }
            for (TfVariable v : vars) {
                if (params.contains(v.originalName())) {
                    initial.put(v.originalName(), v.initialValue());
                }
            }
            Output<?> y = ig.output(output);
            ys = y.shape().asArray();
            if (y.shape().isUnknown() || java.util.Arrays.stream(ys).anyMatch(d -> d < 0)) {
                try (Session s = plainSession(g)) {
                    ig.initializeVariables(s);
                    ys = TfRun.run(s, ig, inputs, List.of(y), List.of("y")).get("y").dims();
                }
            }
            int n = Math.toIntExact(ShapeProduct.of(ys));
            w = new double[n];
            float[] wf = new float[n];
            for (int i = 0; i < n; i++) {
                w[i] = r.nextDouble() * 2 - 1;
                wf[i] = (float) w[i];
            }
            GraphOps ops = GraphOps.of(g, "check");
            Output<?> dy = ops.constant(TensorValue.ofFloats("w", wf, ys));
            List<String> names = new ArrayList<>(wrtInputs);
            names.addAll(params);
            Output<?>[] xs = new Output<?>[names.size()];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = i < wrtInputs.size() ? ig.input(names.get(i)) : ig.variableReads().get(names.get(i));
                if (xs[i] == null) {
                    throw new AssertionError("no parameter read named " + names.get(i));
                }
            }
            Output<?>[] grads = g.addGradients("grad", new Output<?>[] {y}, xs, new Output<?>[] {dy});
            try (Session s = plainSession(g)) {
                ig.initializeVariables(s);
                Map<String, TensorValue> got = TfRun.run(s, ig, inputs, List.of(grads), names);
                for (String k : names) {
                    analytic32.put(k, got.get(k).toFloats());
                }
            }
        }
        Map<String, TensorValue> in64 = new LinkedHashMap<>();
        inputs.forEach((k, v) -> in64.put(k, v.dataType() == DataType.FLOAT ? widen(v) : v));
        List<Target> out = new ArrayList<>();
        try (Graph g = new Graph()) {
            ImportedGraph ig = new OnnxImporter(model, options.toBuilder().float64(true).build()).importInto(g, "m");
            Output<?> y = ig.output(output);
            GraphOps ops = GraphOps.of(g, "check");
            Output<?> dy = ops.constant(TensorValue.ofDoubles("w", w, ys));
            int[] axes = new int[ys.length];
            for (int i = 0; i < axes.length; i++) {
                axes[i] = i;
            }
            Output<?> loss = ops.reduce("Sum", ops.binary("Mul", y, dy), false, axes);
            List<String> names = new ArrayList<>(analytic32.keySet());
            Output<?>[] xs = new Output<?>[names.size()];
            for (int i = 0; i < xs.length; i++) {
                xs[i] = i < wrtInputs.size() ? ig.input(names.get(i)) : ig.variableReads().get(names.get(i));
            }
            Output<?>[] grads = g.addGradients("grad", new Output<?>[] {y}, xs, new Output<?>[] {dy});
            // every run feeds the same values (the inputs and the checked parameters' reads, one of them perturbed),
            // so TensorFlow builds one executor for all finite differences
            Map<Output<?>, TensorValue> feeds = new LinkedHashMap<>();
            in64.forEach((k, v) -> {
                if (ig.inputs().containsKey(k)) {
                    feeds.put(ig.input(k), v);
                }
            });
            for (int i = wrtInputs.size(); i < names.size(); i++) {
                feeds.put(xs[i], widen(initial.get(names.get(i))));
            }
            try (Session s = plainSession(g)) {
                ig.initializeVariables(s);
                List<TensorValue> a64 = runFed(s, feeds, List.of(grads));
                for (int t = 0; t < names.size(); t++) {
                    String name = names.get(t);
                    boolean parameter = t >= wrtInputs.size();
                    Output<?> fedAt = parameter ? xs[t] : ig.input(name);
                    double[] base = Compare.doubles(feeds.get(fedAt));
                    long[] dims = feeds.get(fedAt).dims();
                    float[] g32 = analytic32.get(name);
                    double[] g64 = Compare.doubles(a64.get(t));
                    double scale = 0;
                    double e32 = 0;
                    double e64 = 0;
                    for (int c = 0; c < elements; c++) {
                        int i = r.nextInt(base.length);
                        double h = 1e-5 * Math.max(1, Math.abs(base[i]));
                        double fp = eval(s, feeds, fedAt, name, base, dims, i, base[i] + h, loss);
                        double fm = eval(s, feeds, fedAt, name, base, dims, i, base[i] - h, loss);
                        double fd = (fp - fm) / (2 * h);
                        scale = Math.max(scale, Math.abs(fd));
                        e32 = Math.max(e32, Math.abs(g32[i] - fd));
                        e64 = Math.max(e64, Math.abs(g64[i] - fd));
                    }
                    double norm = Math.max(scale, 1e-30);
                    out.add(new Target(name, parameter, e32 / norm, e64 / norm, scale));
                }
            }
        }
        return out;
    }

    private static double eval(Session s, Map<Output<?>, TensorValue> feeds, Output<?> at, String name, double[] base,
                               long[] dims, int i, double value, Output<?> loss) {
        double[] v = base.clone();
        v[i] = value;
        Map<Output<?>, TensorValue> f = new LinkedHashMap<>(feeds);
        f.put(at, TensorValue.ofDoubles(name, v, dims));
        return Compare.doubles(runFed(s, f, List.of(loss)).get(0))[0];
    }

    private static List<TensorValue> runFed(Session s, Map<Output<?>, TensorValue> feeds, List<Output<?>> fetch) {
        List<Tensor> fed = new ArrayList<>();
        try {
            Session.Runner run = s.runner();
            for (Map.Entry<Output<?>, TensorValue> e : feeds.entrySet()) {
                Tensor t = TfTensors.of(e.getValue());
                fed.add(t);
                run.feed(e.getKey(), t);
            }
            fetch.forEach(run::fetch);
            List<TensorValue> out = new ArrayList<>();
            try (Result res = run.run()) {
                for (int k = 0; k < fetch.size(); k++) {
                    out.add(TfTensors.toTensorValue("fetch" + k, res.get(k)));
                }
            }
            return out;
        } finally {
            fed.forEach(Tensor::close);
        }
    }

    /** @param g a graph @return a session without Grappler (large gradient graphs optimise slowly; results equal) */
    public static Session plainSession(Graph g) {
        return new Session(g, org.tensorflow.proto.ConfigProto.newBuilder()
                .setGraphOptions(org.tensorflow.proto.GraphOptions.newBuilder()
                        .setRewriteOptions(org.tensorflow.proto.RewriterConfig.newBuilder().setDisableMetaOptimizer(true)))
                .build());
    }

    /** @param t a float32 tensor @return the same values as float64 */
    public static TensorValue widen(TensorValue t) {
        float[] f = t.toFloats();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return TensorValue.ofDoubles(t.name(), d, t.dims());
    }

    private static final class ShapeProduct {
        static long of(long[] s) {
            long n = 1;
            for (long d : s) {
                n *= d;
            }
            return n;
        }
    }
}
