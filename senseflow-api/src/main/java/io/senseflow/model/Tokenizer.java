package io.senseflow.model;

import java.util.List;

/** Turns prompts into padded token ids for one text encoder. */
public interface Tokenizer {
    /** @param prompts the prompts @return ids and masks, padded to the tokenizer's length */
    TokenizedPrompts tokenize(List<String> prompts);
}
