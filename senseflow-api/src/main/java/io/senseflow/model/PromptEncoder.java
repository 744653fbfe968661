package io.senseflow.model;

import java.util.List;

/**
 * Prompts in, conditioning out: what the pipeline needs from the text side. Model families with several
 * tokenizers and encoders (SD3's CLIP-L + CLIP-G + T5) implement it directly; single-encoder models compose a
 * {@link Tokenizer} and a {@link TextEncoder} with {@link #of}.
 *
 * <p>Implementations say whether they are thread-safe; the ONNX Runtime ones are, and a pipeline shared between threads
 * needs its components to be.
 */
public interface PromptEncoder extends AutoCloseable {

    /** @param prompts the prompts @return their conditioning, one sample per prompt */
    Conditioning encode(List<String> prompts);

    /**
     * The conditioning of negative prompts for classifier-free guidance. The default encodes them like prompts;
     * families that use a zero embedding for an empty negative prompt (SDXL) override it.
     *
     * @param negativePrompts the negative prompts (empty strings where none was given)
     * @return their conditioning
     */
    default Conditioning encodeNegative(List<String> negativePrompts) {
        return encode(negativePrompts);
    }

    @Override
    default void close() {
    }

    /**
     * @param tokenizer the tokenizer
     * @param encoder the text encoder
     * @return a prompt encoder running one after the other (closing it closes the encoder)
     */
    static PromptEncoder of(Tokenizer tokenizer, TextEncoder encoder) {
        return new PromptEncoder() {
            @Override
            public Conditioning encode(List<String> prompts) {
                return encoder.encode(tokenizer.tokenize(prompts));
            }

            @Override
            public void close() {
                try {
                    encoder.close();
                } catch (Exception e) {
                    throw new io.senseflow.BackendException("closing the text encoder failed", e);
                }
            }
        };
    }
}
