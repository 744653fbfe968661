package io.senseflow.tf.train;

import io.senseflow.InvalidRequestException;

/**
 * Activations of a diffusion transformer (DiT / MMDiT / FLUX-style blocks over image and text tokens) per sample, from
 * its sizes alone, for models too large to import here (docs/memory.md). Each block over {@code N} tokens of width
 * {@code w} with {@code h} heads produces about {@link #VALUES_PER_TOKEN} x {@code N w} values (projections, norms,
 * modulation, MLP at ratio 4) plus {@link #SCORE_TENSORS_PER_HEAD} x {@code h N^2} attention values (the scores and
 * their softmax: TensorFlow materialises them, there is no fused attention on this path). Both constants are fitted to
 * {@link GraphActivations} counts of the in-house {@code FlowTransformer} graph, which this formula slightly
 * over-counts ({@code MemoryEstimateTest}: 1.11 x the graph count at its size, checked within [1, 1.15]).
 *
 * <p>Held at the peak of a forward + backward pass: without recomputation {@link #KEPT_FRACTION}
 * of all blocks' activations; with recomputation (activation checkpointing at block boundaries) every block's input
 * ({@code N w} values) plus one block's activations, recomputed during the backward. Not modelled: the embedding and
 * output layers (small next to the blocks), a fused attention kernel (which would drop the {@code N^2} term).
 *
 * <p>An immutable value: safe to share between threads.
 *
 * @param width the model width
 * @param blocks transformer blocks (FLUX: double + single blocks)
 * @param heads attention heads
 * @param tokens image plus text tokens of one sample
 * @param precision how activations are stored
 */
public record TransformerActivations(int width, int blocks, int heads, int tokens, MemoryEstimate.Precision precision) {
    /** Values per token per unit of width one block produces (fitted to the in-house graph's counts). */
    public static final double VALUES_PER_TOKEN = 70;
    /**
     * The part of a block's activations a backward holds without recomputation: what the gradient ops read, counted on
     * the in-house graph's gradient graph ({@link GraphActivations#backward}: 0.49-0.50 of the forward at four sizes,
     * docs/memory.md), and measured peaks follow that count within 5 % ({@code MemoryModelCheckTest}).
     */
    public static final double KEPT_FRACTION = 0.5;
    /** Attention tensors of {@code N x N} per head per block (scores, softmax). */
    public static final int SCORE_TENSORS_PER_HEAD = 2;

    public TransformerActivations {
        if (width <= 0 || blocks <= 0 || heads <= 0 || tokens <= 0 || precision == null) {
            throw InvalidRequestException.of("transformer activations", "positive width, blocks, heads and tokens",
                    width + ", " + blocks + ", " + heads + ", " + tokens);
        }
    }

    /**
     * @param latentSide latent height and width (e.g. 128 for 1024 px at a VAE factor of 8)
     * @param patch the patch size (2)
     * @param textTokens text tokens joined to the image tokens (SD3: 77 + 256, FLUX: 512)
     * @return the tokens of one sample
     */
    public static int tokens(int latentSide, int patch, int textTokens) {
        int side = latentSide / patch;
        return side * side + textTokens;
    }

    /** @return bytes one block produces for one sample */
    public long blockBytes() {
        double n = tokens;
        return Math.round((VALUES_PER_TOKEN * n * width + SCORE_TENSORS_PER_HEAD * heads * n * n) * precision.bytes());
    }

    /** @return every intermediate of a forward pass of one sample (what {@link GraphActivations} would count) */
    public long forwardBytes() {
        return blocks * blockBytes();
    }

    /**
     * @param batch samples per pass
     * @param recompute whether block activations are recomputed in the backward (checkpointed at block inputs)
     * @return bytes a forward + backward pass holds at its peak
     */
    public long heldBytes(int batch, boolean recompute) {
        if (!recompute) {
            return Math.round(KEPT_FRACTION * forwardBytes()) * batch;
        }
        long inputs = (long) blocks * tokens * width * precision.bytes();
        return (inputs + Math.round(KEPT_FRACTION * blockBytes())) * batch;
    }

    /**
     * A forward-only pass (the teacher) frees each block's intermediates once the next block has run: about two blocks'
     * activations at a time (an assumption, not measured).
     *
     * @param batch samples per pass
     * @return bytes a forward-only pass holds at its peak
     */
    public long forwardHeldBytes(int batch) {
        return 2 * blockBytes() * batch;
    }
}
