package io.senseflow.onnx.folders;

import io.senseflow.model.Conditioning;
import io.senseflow.model.PromptEncoder;
import java.util.List;

/** One tokenizer and one text encoder, both owned: tokens and pooled embedding straight from the encoder. */
final class SingleEncoderPrompts implements PromptEncoder {
    private final EncoderPair pair;

    SingleEncoderPrompts(EncoderPair pair) {
        this.pair = pair;
    }

    @Override
    public Conditioning encode(List<String> prompts) {
        return pair.encodePooled(prompts);
    }

    @Override
    public void close() {
        pair.close();
    }
}
