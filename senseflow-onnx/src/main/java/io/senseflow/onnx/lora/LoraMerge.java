package io.senseflow.onnx.lora;

import io.senseflow.onnx.ir.OnnxAttribute;
import io.senseflow.onnx.ir.OnnxNode;
import java.util.Arrays;
import java.util.Set;

/**
 * What both sides of LoRA agree on: which ONNX nodes read a weight in a way an adapter can be added to, in which
 * orientation, and how an adapter folds into that weight. A node {@code y = x W} (MatMul with the weight as input 1,
 * or Gemm with {@code transA = 0}) becomes {@code y = x W + scale (x down) up} with {@code down} of shape
 * {@code in x rank} and {@code up} of shape {@code rank x out}; folded, {@code W' = W + scale down up}, transposed when
 * the weight is stored {@code out x in} (Gemm with {@code transB = 1}, or a MatMul reading it through a 2-D
 * {@code Transpose}). A Gemm's own {@code alpha} multiplies {@code W'} as it multiplied {@code W}, so it does not
 * enter the fold.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class LoraMerge {
    private LoraMerge() {
    }

    /**
     * @param n a node
     * @return whether {@code n} is a plain 2-D {@code Transpose} (perm absent or {@code [1, 0]}), one input, one output
     */
    public static boolean isTranspose2d(OnnxNode n) {
        if (!n.opType().equals("Transpose") || !n.domain().isEmpty() || n.inputs().size() != 1
                || n.outputs().size() != 1) {
            return false;
        }
        long[] perm = n.attribute("perm").map(OnnxAttribute::ints).orElse(new long[] {1, 0});
        return Arrays.equals(perm, new long[] {1, 0});
    }

    /**
     * How {@code n} reads the value {@code w} as its weight.
     *
     * @param n a node
     * @param w the value it reads (a weight, or a Transpose's output of it)
     * @param opTypes the op types that may be adapted ({@code MatMul}, {@code Gemm})
     * @return {@code false} when {@code n} computes {@code x w} with {@code w} stored {@code in x out}, {@code true}
     *     when {@code w} is stored {@code out x in} (Gemm {@code transB = 1}), or null when {@code n} is not an
     *     adaptable reader of {@code w} (another op, another input position, {@code transA = 1}, {@code w} read twice)
     */
    public static Boolean orientation(OnnxNode n, String w, Set<String> opTypes) {
        if (!n.domain().isEmpty() || !opTypes.contains(n.opType()) || n.inputs().size() < 2
                || !n.inputs().get(1).equals(w) || n.inputs().get(0).equals(w) || n.outputs().size() != 1) {
            return null;
        }
        for (int i = 2; i < n.inputs().size(); i++) {
            if (n.inputs().get(i).equals(w)) {
                return null;
            }
        }
        if (n.opType().equals("MatMul")) {
            return false;
        }
        if (!n.opType().equals("Gemm") || n.attribute("transA").map(OnnxAttribute::intValue).orElse(0L) != 0) {
            return null;
        }
        return n.attribute("transB").map(OnnxAttribute::intValue).orElse(0L) != 0;
    }

    /**
     * Folds one adapter into its weight: {@code W + scale down up}, each element's sum of {@code rank} products and
     * its scaled addition computed in double and rounded once to float32.
     *
     * @param w the weight's elements, row-major, {@code in x out} or (transposed) {@code out x in}
     * @param transposed whether {@code w} is stored {@code out x in}
     * @param down {@code in x rank}, row-major
     * @param up {@code rank x out}, row-major
     * @param in the size contracted with the input
     * @param out the output size
     * @param rank the adapter's rank
     * @param scale the adapter's scale ({@code alpha / rank})
     * @return a new array with the merged weight, in {@code w}'s orientation
     * @throws IllegalArgumentException if an array's length does not match the sizes
     */
    public static float[] merge(float[] w, boolean transposed, float[] down, float[] up, int in, int out, int rank,
                                double scale) {
        if (w.length != (long) in * out || down.length != (long) in * rank || up.length != (long) rank * out) {
            throw new IllegalArgumentException("LoRA merge sizes: weight " + w.length + ", down " + down.length + ", up "
                    + up.length + " for in " + in + ", out " + out + ", rank " + rank);
        }
        float[] merged = new float[w.length];
        for (int i = 0; i < in; i++) {
            for (int o = 0; o < out; o++) {
                double d = 0;
                for (int k = 0; k < rank; k++) {
                    d += (double) down[i * rank + k] * up[k * out + o];
                }
                int at = transposed ? o * in + i : i * out + o;
                merged[at] = (float) (w[at] + scale * d);
            }
        }
        return merged;
    }
}
