package io.senseflow.onnx.arch;

import io.senseflow.train.ParameterSpec;
import io.senseflow.InvalidRequestException;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

/**
 * Declares the parameters of an architecture while its graph is built: as seeded FLOAT initializers, or (to list
 * names and shapes without allocating any weights) as graph inputs of the same name.
 *
 * <p>The values of a parameter depend only on the seed and its full name: they are element {@code 0..n-1} of
 * {@link GaussianNoise} stream {@link #INIT_STREAM} of sample {@code fnv1a64(name)}. Adding or removing a parameter
 * leaves the others unchanged, and two models built with one seed share the values of parameters they share.
 */
final class Params {
    /** The noise stream of parameter initialisation ("init" in ASCII); sampling and training use other ids. */
    static final int INIT_STREAM = 0x696e6974;
    /** Standard deviation of the values {@link Init#RANDOM_ALL} gives to parameters that are 0 or 1 otherwise. */
    static final double RANDOM_ALL_STD = 0.1;
    private static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private final GraphBuilder g;
    private final long seed;
    private final Init init;
    private final boolean shapesOnly;
    private final List<ParameterSpec> specs = new ArrayList<>();

    private Params(GraphBuilder g, long seed, Init init, boolean shapesOnly) {
        this.g = g;
        this.seed = seed;
        this.init = init;
        this.shapesOnly = shapesOnly;
    }

    /** Parameters as initializers with seeded values. */
    static Params values(GraphBuilder g, long seed, Init init) {
        if (init == null) {
            throw InvalidRequestException.of("init", "one of " + Arrays.toString(Init.values()), null);
        }
        return new Params(g, seed, init, false);
    }

    /** Parameters as graph inputs: names and shapes only. */
    static Params shapesOnly(GraphBuilder g) {
        return new Params(g, 0, Init.DEFAULT, true);
    }

    /** @return the parameters declared so far, in order */
    List<ParameterSpec> specs() {
        return List.copyOf(specs);
    }

    /** A weight drawn from N(0, 1 / fanIn) in every mode (LeCun normal: unit-variance inputs stay unit-variance). */
    String weight(String local, long fanIn, long... shape) {
        return declare(local, shape, 0, 1.0 / Math.sqrt(fanIn), null);
    }

    /** An adaLN-Zero weight: 0 under {@link Init#DEFAULT}, N(0, 1 / fanIn) under {@link Init#RANDOM_ALL}. */
    String zeroInitWeight(String local, long fanIn, long... shape) {
        return declare(local, shape, 0, randomAll() ? 1.0 / Math.sqrt(fanIn) : 0, null);
    }

    /** A bias (or a norm's shift): 0, or N(0, 0.1²) under {@link Init#RANDOM_ALL}. */
    String bias(String local, long... shape) {
        return declare(local, shape, 0, randomAll() ? RANDOM_ALL_STD : 0, null);
    }

    /** A norm's scale: 1, or 1 + N(0, 0.1²) under {@link Init#RANDOM_ALL}. */
    String scale(String local, long... shape) {
        return declare(local, shape, 1, randomAll() ? RANDOM_ALL_STD : 0, null);
    }

    /** An embedding table drawn from N(0, std²) in every mode. */
    String normal(String local, double std, long... shape) {
        return declare(local, shape, 0, std, null);
    }

    /**
     * A parameter starting at given values, perturbed by N(0, 0.1²) under {@link Init#RANDOM_ALL}.
     *
     * @param values computes the values (not called when only shapes are wanted)
     */
    String table(String local, Supplier<float[]> values, long... shape) {
        return declare(local, shape, 0, randomAll() ? RANDOM_ALL_STD : 0, values);
    }

    private boolean randomAll() {
        return init == Init.RANDOM_ALL;
    }

    private String declare(String local, long[] shape, double mean, double std, Supplier<float[]> baseValues) {
        String full = g.parameterName(local);
        long n = 1;
        for (long d : shape) {
            n = d > 0 && n > Long.MAX_VALUE / d ? Long.MAX_VALUE : n * d; // saturate: refused below anyway
        }
        specs.add(ParameterSpec.of(full, shape));
        if (shapesOnly) {
            Dim[] dims = new Dim[shape.length];
            for (int i = 0; i < shape.length; i++) {
                dims[i] = Dim.of(shape[i]);
            }
            return g.input(full, DataType.FLOAT, dims);
        }
        if (n > MAX_ELEMENTS) {
            throw InvalidRequestException.of("parameter " + full, "fewer than 2^31 elements", n + " elements "
                    + Arrays.toString(shape));
        }
        float[] base = baseValues == null ? null : baseValues.get();
        float[] values = new float[(int) n];
        if (std != 0) {
            GaussianNoise.fill(seed, nameKey(full), INIT_STREAM, values, 0, values.length);
        }
        for (int i = 0; i < values.length; i++) {
            double b = base == null ? mean : base[i];
            values[i] = (float) (b + std * values[i]);
        }
        return g.initializer(local, values, shape);
    }

    /** 64-bit FNV-1a of the UTF-8 name: the noise sample of a parameter. */
    static long nameKey(String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h;
    }
}
