package io.senseflow.model;

import java.util.List;

/**
 * Turns prompts into padded token ids for one text encoder.
 *
 * <p>Implementations say whether they are thread-safe; the ONNX Runtime ones are, and a pipeline shared between threads
 * needs its components to be.
 */
public interface Tokenizer {
    /** @param prompts the prompts @return ids and masks, padded to the tokenizer's length */
    TokenizedPrompts tokenize(List<String> prompts);
}
