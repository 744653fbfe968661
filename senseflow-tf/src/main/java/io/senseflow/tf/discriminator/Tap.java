package io.senseflow.tf.discriminator;

import io.senseflow.InvalidRequestException;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a discriminator head reads the backbone (docs/algorithm.md §5): an explicit value or node of the ONNX graph, the
 * output of the k-th transformer block, or the patch embedding. {@link BackboneStructure#resolve(Tap)} turns a tap
 * into the name of one ONNX value.
 *
 * <p>Its implementations are immutable records: safe to share between threads.
 */
public sealed interface Tap permits Tap.Named, Tap.AfterBlock, Tap.PatchEmbedding {

    /**
     * @param name a value (tensor) name of the graph, or a node name (its first output is taken)
     * @return the tap
     */
    static Tap named(String name) {
        return new Named(name);
    }

    /**
     * @param k the block index, from 0; negative counts from the end ({@code -1} is the last block)
     * @return the tap after that block (its output, the residual stream)
     */
    static Tap afterBlock(int k) {
        return new AfterBlock(k);
    }

    /** @return the tap on the patch embedding's output grid (the patchifying convolution, before any token) */
    static Tap patchEmbedding() {
        return new PatchEmbedding();
    }

    /**
     * @param ks block indices
     * @return one tap after each, in order
     */
    static List<Tap> afterBlocks(int... ks) {
        List<Tap> out = new ArrayList<>();
        for (int k : ks) {
            out.add(afterBlock(k));
        }
        return out;
    }

    /**
     * An explicit value or node name.
     *
     * @param name the name
     */
    record Named(String name) implements Tap {
        public Named {
            if (name == null || name.isEmpty()) {
                throw InvalidRequestException.of("tap name", "a value or node name of the backbone graph", name);
            }
        }

        @Override
        public String toString() {
            return "tap '" + name + "'";
        }
    }

    /**
     * The output of a transformer block.
     *
     * @param index the block, from 0 (negative: from the end)
     */
    record AfterBlock(int index) implements Tap {
        @Override
        public String toString() {
            return "tap after block " + index;
        }
    }

    /** The patch embedding's output. */
    record PatchEmbedding() implements Tap {
        @Override
        public String toString() {
            return "tap on the patch embedding";
        }
    }
}
