package io.senseflow.pipeline;

import io.senseflow.image.Image;
import io.senseflow.tensor.Tensor;
import java.util.List;

/**
 * What a generation produced.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param images decoded images, prompt-major (empty when decoding was off or the pipeline has no decoder)
 * @param latents the final latents, before decoding
 * @param settings the settings actually used, defaults resolved
 * @param timings time spent per stage
 */
public record GenerationResult(List<Image> images, Tensor latents, GenerationSettings settings, StageTimings timings) {
    public GenerationResult {
        images = List.copyOf(images);
    }
}
