package io.senseflow.onnx.folders;

import io.senseflow.model.Conditioning;
import io.senseflow.model.PromptEncoder;
import io.senseflow.model.TextEncoder;
import io.senseflow.model.Tokenizer;
import java.util.List;
import java.util.Map;

/**
 * The text side of FLUX.1, as diffusers' Flux pipeline does it: the token embeddings are T5's last hidden state
 * ({@code max_sequence_length} tokens, 512 for FLUX.1-dev), the pooled embedding is CLIP-L's {@code pooler_output}
 * (CLIP's token embeddings are not used). No attention mask reaches the transformer. FLUX runs without
 * classifier-free guidance, so negative prompts are encoded like prompts if ever asked for.
 *
 * <p>Thread-safe when its parts are. Closing it closes the encoders and tokenizers.
 */
public final class FluxPromptEncoder implements PromptEncoder {
    private final EncoderPair clip;
    private final EncoderPair t5;

    FluxPromptEncoder(EncoderPair clip, EncoderPair t5) {
        this.clip = clip;
        this.t5 = t5;
    }

    /**
     * @param clipTokenizer CLIP-L's tokenizer ({@code tokenizer/})
     * @param clipEncoder CLIP-L ({@code text_encoder/}) with a pooled output
     * @param t5Tokenizer T5's tokenizer ({@code tokenizer_2/}), padded to the sequence length
     * @param t5Encoder T5 ({@code text_encoder_2/})
     * @return the prompt encoder, owning (closing) what it is given
     */
    public static FluxPromptEncoder of(Tokenizer clipTokenizer, TextEncoder clipEncoder, Tokenizer t5Tokenizer,
                                       TextEncoder t5Encoder) {
        return new FluxPromptEncoder(new EncoderPair("text_encoder", clipTokenizer, clipEncoder),
                new EncoderPair("text_encoder_2", t5Tokenizer, t5Encoder));
    }

    @Override
    public Conditioning encode(List<String> prompts) {
        Conditioning pooled = clip.encodePooled(prompts);
        Conditioning tokens = t5.encode(prompts);
        return new Conditioning(tokens.tokens(), pooled.pooled(), null, Map.of());
    }

    @Override
    public void close() {
        EncoderPair.closeAll(clip, t5);
    }
}
