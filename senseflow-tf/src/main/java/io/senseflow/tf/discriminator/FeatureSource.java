package io.senseflow.tf.discriminator;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.tf.graph.GraphOps;
import io.senseflow.train.ModuleInputs;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.tensorflow.Output;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.proto.DataType;

/** Where the heads' feature grids come from: a frozen vision backbone, or the fake score's own graph. */
interface FeatureSource {

    /** @return the module inputs this source reads, {@link ModuleInputs#X} first */
    List<String> inputs();

    /**
     * @param input a module input other than {@code x}
     * @param x the shape of {@code x}
     * @return its shape as far as the source knows it, or null when it must come from the call
     */
    int[] shapeFor(String input, int[] x);

    /**
     * Builds the features of one input-shape variant.
     *
     * @param scope where to build
     * @param in float32 placeholders by module input (static shapes)
     * @return one NHWC float32 grid {@code [B, h, w, C]} with static shape per tap
     */
    List<Output<?>> build(GraphOps scope, Map<String, Output<?>> in);

    /** @return the resolved ONNX value name of each tap */
    List<String> tapValues();

    /**
     * @param in the engine's inputs
     * @param rng randomness for one call
     * @return the inputs with whatever random inputs the source needs
     */
    ModuleInputs randomize(ModuleInputs in, RandomStream rng);

    /** @return a short description for messages */
    String describe();

    // ------------------------------------------------------------------ shared helpers

    static long[] staticShape(Output<?> o, String what) {
        Shape s = o.shape();
        long[] dims = s.isUnknown() ? null : s.asArray();
        if (dims == null || Arrays.stream(dims).anyMatch(d -> d < 0)) {
            throw InvalidRequestException.of(what, "a static shape (the input shapes fix it)", s.toString());
        }
        return dims;
    }

    /**
     * A tap's value as an NHWC grid: {@code [B, D, h, w]} is transposed; {@code [B, T, D]} tokens drop their prefix
     * (or append the CLS token to every patch token) and fold into {@code [B, gh, gw, D]}.
     */
    static Output<?> toGrid(GraphOps g, Output<?> value, long gh, long gw, int prefixGiven, Backbone.ClsToken cls,
                            String what) {
        Output<?> v = g.cast(value, DataType.DT_FLOAT);
        long[] s = staticShape(v, what);
        if (s.length == 4) {
            return g.transpose(v, 0, 2, 3, 1);
        }
        if (s.length != 3) {
            throw InvalidRequestException.of(what, "tokens [B, T, D] or a grid [B, D, h, w]", Arrays.toString(s));
        }
        if (gh <= 0 || gw <= 0) {
            throw InvalidRequestException.of(what + " (tokens " + Arrays.toString(s) + ")", "a known patch grid: give"
                    + " the patch size (Backbone.Builder.patchSize) when the graph has no patchifying Conv", "none");
        }
        long grid = gh * gw;
        long prefix = prefixGiven >= 0 ? prefixGiven : s[1] - grid;
        if (prefix < 0 || s[1] - prefix != grid) {
            throw InvalidRequestException.of(what, (prefixGiven >= 0 ? prefixGiven + " prefix tokens + " : "")
                    + grid + " patch tokens (" + gh + "x" + gw + " grid)", s[1] + " tokens");
        }
        Output<?> tokens = prefix == 0 ? v
                : g.op("Slice").in(v).in(g.indices(0, prefix, 0)).in(g.indices(s[0], grid, s[2])).out();
        Output<?> out = g.reshape(tokens, s[0], gh, gw, s[2]);
        if (cls == Backbone.ClsToken.CONCAT) {
            if (prefix < 1) {
                throw InvalidRequestException.of(what, "a CLS token to concatenate (prefix tokens >= 1)", "none");
            }
            Output<?> token = g.reshape(g.op("Slice").in(v).in(g.indices(0, 0, 0)).in(g.indices(s[0], 1, s[2])).out(),
                    s[0], 1, 1, s[2]);
            Output<?> spread = g.binary("Mul", token, g.op("Fill").in(g.longs(1, gh, gw, 1)).in(g.scalar(1f)).out());
            out = g.concat(List.of(out, spread), 3);
        }
        return out;
    }
}
