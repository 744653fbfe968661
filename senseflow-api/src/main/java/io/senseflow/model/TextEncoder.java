package io.senseflow.model;

/**
 * Encodes token ids into a {@link Conditioning}.
 *
 * <p>Implementations say whether they are thread-safe; the ONNX Runtime ones are, and a pipeline shared between threads
 * needs its components to be.
 */
public interface TextEncoder extends AutoCloseable {
    /** @param tokens a tokenized batch @return the conditioning, batch first */
    Conditioning encode(TokenizedPrompts tokens);

    @Override
    default void close() {
    }
}
