package io.senseflow.model;

import io.senseflow.InvalidRequestException;

/**
 * A batch of token ids, padded to one length, with the attention mask (1 for real tokens, 0 for padding).
 *
 * <p>Safe to share between threads as long as nobody writes into its arrays (they are not copied).
 *
 * @param ids token ids {@code [B][L]}
 * @param mask attention mask {@code [B][L]}
 */
public record TokenizedPrompts(long[][] ids, long[][] mask) {
    public TokenizedPrompts {
        if (ids.length != mask.length) {
            throw InvalidRequestException.of("mask", ids.length + " rows", mask.length);
        }
        for (int i = 0; i < ids.length; i++) {
            if (ids[i].length != ids[0].length || mask[i].length != ids[i].length) {
                throw InvalidRequestException.of("ids[" + i + "]", "length " + ids[0].length, ids[i].length);
            }
        }
    }

    /** @return the batch size */
    public int batch() {
        return ids.length;
    }

    /** @return the padded sequence length */
    public int length() {
        return ids.length == 0 ? 0 : ids[0].length;
    }
}
