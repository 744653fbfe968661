package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.PromptEncoder;
import io.senseflow.model.TextEncoder;
import io.senseflow.model.Tokenizer;
import io.senseflow.tensor.Tensor;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The text side of Stable Diffusion 3 / 3.5, following the conventions of diffusers' SD3 pipeline:
 * <ol>
 *   <li>both CLIP encoders (CLIP-L, then CLIP-G) run on the prompt padded to their 77 tokens; each contributes its
 *       penultimate hidden state (the encoder is built with {@code hiddenState(-2)}) and its projected pooled
 *       embedding;</li>
 *   <li>the two token sequences are joined along the feature axis (L's features first), then zero-padded on the
 *       feature axis to the transformer's token width (T5's width, 4096 for the real model);</li>
 *   <li>T5's last hidden state, {@code t5SequenceLength} tokens, is appended after the CLIP tokens along the sequence
 *       axis; without a T5 encoder, zeros of that shape take its place;</li>
 *   <li>the pooled embedding is CLIP-L's pooled vector followed by CLIP-G's.</li>
 * </ol>
 * So the transformer sees {@code [B, 77 + t5SequenceLength, width]} tokens and a {@code [B, P_L + P_G]} pooled vector.
 * Negative prompts are encoded the same way (no zeroed embedding, unlike SDXL).
 *
 * <p>Thread-safe when its parts are. Closing it closes the encoders and tokenizers.
 */
public final class Sd3PromptEncoder implements PromptEncoder {
    private final EncoderPair clipL;
    private final EncoderPair clipG;
    private final EncoderPair t5;
    private final int tokenWidth;
    private final int t5SequenceLength;

    /**
     * @param clipL CLIP-L's tokenizer and encoder (token embeddings from hidden state -2, pooled from {@code text_embeds})
     * @param clipG CLIP-G's, likewise
     * @param t5 T5's tokenizer and encoder, or null to use zeros in its place
     * @param tokenWidth the transformer's token width ({@code joint_attention_dim})
     * @param t5SequenceLength T5 tokens per prompt (the T5 tokenizer's padded length)
     */
    Sd3PromptEncoder(EncoderPair clipL, EncoderPair clipG, EncoderPair t5, int tokenWidth, int t5SequenceLength) {
        this.clipL = Objects.requireNonNull(clipL, "clipL");
        this.clipG = Objects.requireNonNull(clipG, "clipG");
        this.t5 = t5;
        if (tokenWidth < 1 || t5SequenceLength < 1) {
            throw InvalidRequestException.of("tokenWidth, t5SequenceLength", "positive", tokenWidth + ", " + t5SequenceLength);
        }
        this.tokenWidth = tokenWidth;
        this.t5SequenceLength = t5SequenceLength;
    }

    /**
     * @param clipLTokenizer CLIP-L's tokenizer ({@code tokenizer/})
     * @param clipLEncoder CLIP-L ({@code text_encoder/}), token embeddings from hidden state -2, pooled {@code text_embeds}
     * @param clipGTokenizer CLIP-G's tokenizer ({@code tokenizer_2/})
     * @param clipGEncoder CLIP-G ({@code text_encoder_2/}), likewise
     * @param t5Tokenizer T5's tokenizer ({@code tokenizer_3/}), padded to the sequence length, or null
     * @param t5Encoder T5 ({@code text_encoder_3/}), or null for zeros
     * @param tokenWidth the transformer's token width
     * @param t5SequenceLength T5 tokens per prompt
     * @return the prompt encoder, owning (closing) what it is given
     */
    public static Sd3PromptEncoder of(Tokenizer clipLTokenizer, TextEncoder clipLEncoder, Tokenizer clipGTokenizer,
                                      TextEncoder clipGEncoder, Tokenizer t5Tokenizer, TextEncoder t5Encoder,
                                      int tokenWidth, int t5SequenceLength) {
        EncoderPair t5 = t5Encoder == null ? null : new EncoderPair("text_encoder_3", t5Tokenizer, t5Encoder);
        return new Sd3PromptEncoder(new EncoderPair("text_encoder", clipLTokenizer, clipLEncoder),
                new EncoderPair("text_encoder_2", clipGTokenizer, clipGEncoder), t5, tokenWidth, t5SequenceLength);
    }

    @Override
    public Conditioning encode(List<String> prompts) {
        Conditioning l = clipL.encodePooled(prompts);
        Conditioning g = clipG.encodePooled(prompts);
        Tensor clip = Tensors.concatLast(l.tokens(), g.tokens());
        if (clip.dim(2) > tokenWidth) {
            throw new InvalidRequestException("the CLIP token features (" + l.tokens().dim(2) + " + " + g.tokens().dim(2)
                    + ") are wider than the transformer's token width " + tokenWidth);
        }
        clip = Tensors.padLast(clip, tokenWidth);
        Tensor t5Tokens = t5 == null ? Tensor.zeros(prompts.size(), t5SequenceLength, tokenWidth) : t5.encode(prompts).tokens();
        if (t5Tokens.dim(2) != tokenWidth) {
            throw new InvalidRequestException("text_encoder_3 gives " + t5Tokens.dim(2) + " features per token, the "
                    + "transformer takes " + tokenWidth);
        }
        Tensor tokens = Tensors.concatSequence(clip, t5Tokens);
        Tensor pooled = Tensors.concatLast(l.pooled(), g.pooled());
        return new Conditioning(tokens, pooled, null, Map.of());
    }

    /** @return T5 tokens per prompt */
    public int t5SequenceLength() {
        return t5SequenceLength;
    }

    /** @return whether a T5 encoder is used (otherwise zeros stand in for its tokens) */
    public boolean hasT5() {
        return t5 != null;
    }

    @Override
    public void close() {
        EncoderPair.closeAll(clipL, clipG, t5);
    }
}
