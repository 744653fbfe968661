package io.senseflow.tf.testing;

import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * One single-operator test model, buildable with float32 tensors (run in ONNX Runtime and TensorFlow) or float64
 * tensors (for finite-difference gradient checks in TensorFlow).
 */
public final class OpCase {
    /** Builds the graph body with float type {@code f}; returns the outputs. */
    @FunctionalInterface
    public interface Body {
        List<Out> build(GraphBuilder g, DataType f);
    }

    /** A generator of input values. */
    @FunctionalInterface
    public interface Gen {
        double next(Random r, int index);
    }

    /**
     * An output and its type (null: the float type).
     *
     * @param name value name
     * @param type element type or null
     */
    public record Out(String name, DataType type) {
    }

    final String name;
    long opset = 17;
    final Body body;
    final Map<String, Gen> gens = new HashMap<>();
    double atol = 1e-5;
    double rtol = 1e-5;
    boolean grad = true;
    final Set<String> noGrad = new HashSet<>();

    OpCase(String name, Body body) {
        this.name = name;
        this.body = body;
    }

    /** @param name label @param body graph @return a case */
    public static OpCase of(String name, Body body) {
        return new OpCase(name, body);
    }

    /** @param v opset @return this */
    public OpCase opset(long v) {
        this.opset = v;
        return this;
    }

    /** @param input name @param g generator @return this */
    public OpCase gen(String input, Gen g) {
        gens.put(input, g);
        return this;
    }

    /** @param a abs tol @return this */
    public OpCase tol(double a) {
        this.atol = a;
        this.rtol = a;
        return this;
    }

    /** @return this, without gradient check */
    public OpCase noGrad() {
        this.grad = false;
        return this;
    }

    /** @param inputs inputs not to differentiate @return this */
    public OpCase noGradFor(String... inputs) {
        noGrad.addAll(List.of(inputs));
        return this;
    }

    /** @return whether gradients are checked */
    public boolean gradient() {
        return grad;
    }

    /** @param input an input @return whether gradients with respect to it are checked */
    public boolean differentiates(String input) {
        return grad && !noGrad.contains(input);
    }

    /** @return the name */
    public String name() {
        return name;
    }

    /** @param f FLOAT or DOUBLE @return the model and the outputs */
    public Built build(DataType f) {
        GraphBuilder g = GraphBuilder.create(name.replaceAll("[^A-Za-z0-9]", "_"), opset);
        List<Out> outs = body.build(g, f);
        List<String> names = new ArrayList<>();
        for (Out o : outs) {
            g.output(ValueInfo.unknownShape(o.name(), o.type() == null ? f : o.type()));
            names.add(o.name());
        }
        return new Built(g.build(), names);
    }

    /**
     * @param model model
     * @param outputs output names
     */
    public record Built(OnnxModel model, List<String> outputs) {
    }

    /**
     * @param model a built model
     * @param seed random seed
     * @return random inputs for its declared inputs
     */
    public Map<String, TensorValue> inputs(OnnxModel model, long seed) {
        Random r = new Random(seed);
        Map<String, TensorValue> in = new LinkedHashMap<>();
        for (ValueInfo v : model.graph().inputs()) {
            long[] dims = v.shape().stream().mapToLong(d -> ((Dim.Fixed) d).value()).toArray();
            int n = 1;
            for (long d : dims) {
                n *= (int) d;
            }
            Gen gen = gens.get(v.name());
            switch (v.elementType()) {
                case FLOAT, DOUBLE -> {
                    double[] x = new double[n];
                    for (int i = 0; i < n; i++) {
                        x[i] = gen == null ? r.nextDouble() * 4 - 2 : gen.next(r, i);
                    }
                    if (v.elementType() == DataType.FLOAT) {
                        float[] f = new float[n];
                        for (int i = 0; i < n; i++) {
                            f[i] = (float) x[i];
                        }
                        in.put(v.name(), TensorValue.ofFloats(v.name(), f, dims));
                    } else {
                        in.put(v.name(), TensorValue.ofDoubles(v.name(), x, dims));
                    }
                }
                case INT64 -> {
                    long[] x = new long[n];
                    for (int i = 0; i < n; i++) {
                        x[i] = gen == null ? r.nextInt(3) : (long) gen.next(r, i);
                    }
                    in.put(v.name(), TensorValue.ofLongs(v.name(), x, dims));
                }
                case BOOL -> {
                    boolean[] x = new boolean[n];
                    for (int i = 0; i < n; i++) {
                        x[i] = gen == null ? r.nextBoolean() : gen.next(r, i) != 0;
                    }
                    in.put(v.name(), TensorValue.ofBooleans(v.name(), x, dims));
                }
                default -> throw new IllegalArgumentException("input type " + v.elementType());
            }
        }
        return in;
    }

    /** @param name value @return an output of the float type */
    public static List<Out> out(String name) {
        return List.of(new Out(name, null));
    }

    /** @param name value @param type its type @return an output */
    public static List<Out> out(String name, DataType type) {
        return List.of(new Out(name, type));
    }

    /** @param dims fixed sizes @return dims */
    public static Dim[] d(long... dims) {
        Dim[] out = new Dim[dims.length];
        for (int i = 0; i < dims.length; i++) {
            out[i] = Dim.of(dims[i]);
        }
        return out;
    }

    @Override
    public String toString() {
        return name;
    }
}
