package io.senseflow.onnx.folders;

import io.senseflow.BackendException;
import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.TextEncoder;
import io.senseflow.model.Tokenizer;
import java.util.List;
import java.util.Objects;

/**
 * One tokenizer and its text encoder, as the multi-encoder prompt encoders use them.
 *
 * @param name a name for messages, such as {@code text_encoder_2}
 * @param tokenizer the tokenizer
 * @param encoder the text encoder
 */
record EncoderPair(String name, Tokenizer tokenizer, TextEncoder encoder) implements AutoCloseable {
    EncoderPair {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(tokenizer, "tokenizer");
        Objects.requireNonNull(encoder, "encoder");
    }

    Conditioning encode(List<String> prompts) {
        return encoder.encode(tokenizer.tokenize(prompts));
    }

    /** Encodes and requires a pooled embedding. */
    Conditioning encodePooled(List<String> prompts) {
        Conditioning c = encode(prompts);
        if (c.pooled() == null) {
            throw new InvalidRequestException(name + " returned no pooled embedding");
        }
        return c;
    }

    /** Closes the encoder, then the tokenizer when it holds native resources. */
    @Override
    public void close() {
        BackendException failure = null;
        for (Object o : new Object[] {encoder, tokenizer}) {
            if (o instanceof AutoCloseable c) {
                try {
                    c.close();
                } catch (Exception e) {
                    if (failure == null) {
                        failure = new BackendException("closing " + name + " failed", e);
                    } else {
                        failure.addSuppressed(e);
                    }
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    static void closeAll(EncoderPair... pairs) {
        BackendException failure = null;
        for (EncoderPair p : pairs) {
            if (p == null) {
                continue;
            }
            try {
                p.close();
            } catch (BackendException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
