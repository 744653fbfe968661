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
 * @param guidance the teacher guidance scale of each sample for the DMD term's real score (per-prompt guidance, e.g.
 *     from a JSONL prompt file), or null to draw every scale from the config's range; a NaN entry draws that sample's
 *     scale from the range too. Consumed by {@link DistributionMatching} through {@link GeneratorContext#guidanceScales()}
 */
public record DistillationBatch(List<String> prompts, Conditioning conditioning, Conditioning unconditional,
                                Tensor realSamples, float[] guidance) {
    /**
     * A batch without per-sample guidance.
     *
     * @param prompts the prompts (used when no cached conditioning is given)
     * @param conditioning cached conditioning for the prompts, or null to encode them
     * @param unconditional cached unconditional conditioning (same batch), or null to encode empty prompts
     * @param realSamples real samples in the generator's space, or null
     */
    public DistillationBatch(List<String> prompts, Conditioning conditioning, Conditioning unconditional,
                             Tensor realSamples) {
        this(prompts, conditioning, unconditional, realSamples, null);
    }

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
        if (guidance != null) {
            if (guidance.length != batch) {
                throw InvalidRequestException.of("batch guidance", batch + " scales", guidance.length);
            }
            guidance = guidance.clone();
            for (int i = 0; i < guidance.length; i++) {
                if (!Float.isNaN(guidance[i]) && !(guidance[i] >= 0 && Float.isFinite(guidance[i]))) {
                    throw InvalidRequestException.of("batch guidance[" + i + "]", "a finite scale >= 0 (or NaN: drawn)",
                            guidance[i]);
                }
            }
        }
    }

    /** @return each sample's guidance scale (a copy), or null when none is given */
    @Override
    public float[] guidance() {
        return guidance == null ? null : guidance.clone();
    }

    /**
     * @param scales each sample's DMD guidance scale (NaN: drawn from the config's range), or null
     * @return this batch with those scales
     */
    public DistillationBatch withGuidance(float[] scales) {
        return new DistillationBatch(prompts, conditioning, unconditional, realSamples, scales);
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
