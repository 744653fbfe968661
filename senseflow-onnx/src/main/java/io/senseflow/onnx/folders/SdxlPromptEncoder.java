package io.senseflow.onnx.folders;

import io.senseflow.model.Conditioning;
import io.senseflow.model.PromptEncoder;
import io.senseflow.model.TextEncoder;
import io.senseflow.model.Tokenizer;
import java.util.List;
import java.util.Map;

/**
 * The text side of Stable Diffusion XL, as diffusers' SDXL pipeline does it: both CLIP encoders (CLIP-L, then
 * CLIP-G) contribute their penultimate hidden states, joined along the feature axis (768 + 1280 = 2048 for the real
 * model); the pooled embedding ({@code text_embeds} of the UNet) is CLIP-G's projected pooled output.
 *
 * <p>Negative prompts: with {@code forceZerosForEmptyPrompt} (SDXL's {@code force_zeros_for_empty_prompt}, true for
 * the released base model), a sample whose negative prompt is empty gets all-zero token and pooled embeddings instead
 * of the encoding of "" — diffusers does this when no negative prompt is given; the SDK cannot tell "not given" from
 * "", so an empty string counts as not given.
 *
 * <p>The UNet's {@code time_ids} depend on the image size and are added by the generator, not here.
 * Thread-safe when its parts are. Closing it closes the encoders and tokenizers.
 */
public final class SdxlPromptEncoder implements PromptEncoder {
    private final EncoderPair clipL;
    private final EncoderPair clipG;
    private final boolean forceZerosForEmptyPrompt;

    SdxlPromptEncoder(EncoderPair clipL, EncoderPair clipG, boolean forceZerosForEmptyPrompt) {
        this.clipL = clipL;
        this.clipG = clipG;
        this.forceZerosForEmptyPrompt = forceZerosForEmptyPrompt;
    }

    /**
     * @param clipLTokenizer CLIP-L's tokenizer ({@code tokenizer/})
     * @param clipLEncoder CLIP-L ({@code text_encoder/}), token embeddings from hidden state -2
     * @param clipGTokenizer CLIP-G's tokenizer ({@code tokenizer_2/})
     * @param clipGEncoder CLIP-G ({@code text_encoder_2/}), hidden state -2 and a pooled {@code text_embeds}
     * @param forceZerosForEmptyPrompt whether empty negative prompts get zero embeddings
     * @return the prompt encoder, owning (closing) what it is given
     */
    public static SdxlPromptEncoder of(Tokenizer clipLTokenizer, TextEncoder clipLEncoder, Tokenizer clipGTokenizer,
                                       TextEncoder clipGEncoder, boolean forceZerosForEmptyPrompt) {
        return new SdxlPromptEncoder(new EncoderPair("text_encoder", clipLTokenizer, clipLEncoder),
                new EncoderPair("text_encoder_2", clipGTokenizer, clipGEncoder), forceZerosForEmptyPrompt);
    }

    @Override
    public Conditioning encode(List<String> prompts) {
        Conditioning l = clipL.encode(prompts);
        Conditioning g = clipG.encodePooled(prompts);
        return new Conditioning(Tensors.concatLast(l.tokens(), g.tokens()), g.pooled(), null, Map.of());
    }

    @Override
    public Conditioning encodeNegative(List<String> negativePrompts) {
        Conditioning c = encode(negativePrompts);
        if (!forceZerosForEmptyPrompt) {
            return c;
        }
        boolean[] empty = new boolean[negativePrompts.size()];
        boolean any = false;
        for (int i = 0; i < empty.length; i++) {
            empty[i] = negativePrompts.get(i).isEmpty();
            any |= empty[i];
        }
        if (!any) {
            return c;
        }
        return new Conditioning(Tensors.zeroSamples(c.tokens(), empty), Tensors.zeroSamples(c.pooled(), empty), null, Map.of());
    }

    /** @return whether empty negative prompts get zero embeddings */
    public boolean forceZerosForEmptyPrompt() {
        return forceZerosForEmptyPrompt;
    }

    @Override
    public void close() {
        EncoderPair.closeAll(clipL, clipG);
    }
}
