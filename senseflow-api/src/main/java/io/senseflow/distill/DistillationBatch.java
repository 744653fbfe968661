package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Conditioning;
import io.senseflow.tensor.Tensor;
import java.util.List;

/**
 * One iteration's data.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param prompts the prompts (used when no cached conditioning is given)
 * @param conditioning cached conditioning for the prompts, or null to encode them
 * @param unconditional cached unconditional conditioning (same batch), or null to encode empty prompts
 * @param realSamples real samples in the generator's space (latents of real images), or null
 */
public record DistillationBatch(List<String> prompts, Conditioning conditioning, Conditioning unconditional, Tensor realSamples) {
    public DistillationBatch {
        prompts = List.copyOf(prompts);
        int n = prompts.size();
        if (n == 0 && conditioning == null) {
            throw InvalidRequestException.of("batch", "prompts or a cached conditioning", "neither");
        }
        int batch = conditioning != null ? conditioning.batch() : n;
        if (n != 0 && n != batch) {
            throw InvalidRequestException.of("batch prompts", batch + " prompts", n);
        }
        if (unconditional != null && unconditional.batch() != batch) {
            throw InvalidRequestException.of("batch unconditional", "batch " + batch, unconditional.batch());
        }
        if (realSamples != null && realSamples.batch() != batch) {
            throw InvalidRequestException.of("batch realSamples", "batch " + batch, realSamples.batch());
        }
    }

    /** @param prompts prompts @return a batch of prompts only */
    public static DistillationBatch ofPrompts(List<String> prompts) {
        return new DistillationBatch(prompts, null, null, null);
    }

    /** @return the batch size */
    public int size() {
        return conditioning != null ? conditioning.batch() : prompts.size();
    }
}
