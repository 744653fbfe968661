package io.senseflow.model;

/** Encodes token ids into a {@link Conditioning}. */
public interface TextEncoder extends AutoCloseable {
    /** @param tokens a tokenized batch @return the conditioning, batch first */
    Conditioning encode(TokenizedPrompts tokens);

    @Override
    default void close() {
    }
}
