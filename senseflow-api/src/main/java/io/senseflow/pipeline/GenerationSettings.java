package io.senseflow.pipeline;

import io.senseflow.noise.NoiseKey;
import io.senseflow.noise.NoiseSource;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The effective settings of one generation, every default resolved: enough to reproduce it.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param model the model's name
 * @param prompts prompts
 * @param negativePrompts negative prompts (empty strings for none)
 * @param sigmas the noise levels used, terminal included
 * @param guidanceScale the guidance scale
 * @param guidanceMode how guidance was applied
 * @param noiseKeys noise key per sample
 * @param width width in pixels
 * @param height height in pixels
 * @param imagesPerPrompt images per prompt
 * @param scheduler the scheduler's description
 * @param noiseSource where the noise came from (with {@link NoiseSource#TORCH} the keys carry the seed; their sample
 *     index is the position in the one batch-shaped draw)
 */
public record GenerationSettings(String model, List<String> prompts, List<String> negativePrompts, double[] sigmas,
        double guidanceScale, GuidanceMode guidanceMode, List<NoiseKey> noiseKeys, int width, int height,
        int imagesPerPrompt, String scheduler, NoiseSource noiseSource) {

    /** @return the number of steps */
    public int steps() {
        return sigmas.length - 1;
    }

    @Override
    public double[] sigmas() {
        return sigmas.clone();
    }

    /**
     * The PNG text metadata of one sample.
     *
     * @param sample the sample index in the batch
     * @return keyword/value pairs
     */
    public Map<String, String> metadataFor(int sample) {
        int prompt = sample / imagesPerPrompt;
        Map<String, String> m = new LinkedHashMap<>();
        m.put("prompt", prompts.get(prompt));
        m.put("negative_prompt", negativePrompts.get(prompt));
        m.put("seed", Long.toString(noiseKeys.get(sample).seed()));
        m.put("sample_index", Long.toString(noiseKeys.get(sample).sample()));
        m.put("steps", Integer.toString(steps()));
        m.put("sigmas", Arrays.toString(sigmas));
        m.put("guidance_scale", Double.toString(guidanceScale));
        m.put("guidance_mode", guidanceMode.name().toLowerCase(java.util.Locale.ROOT));
        m.put("width", Integer.toString(width));
        m.put("height", Integer.toString(height));
        m.put("scheduler", scheduler);
        if (noiseSource != NoiseSource.COUNTER) {
            m.put("noise", noiseSource.id());
        }
        m.put("model", model);
        m.put("software", "SenseFlow for Java");
        return m;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof GenerationSettings)) {
            return false;
        }
        GenerationSettings g = (GenerationSettings) o;
        return model.equals(g.model) && prompts.equals(g.prompts) && negativePrompts.equals(g.negativePrompts)
                && Arrays.equals(sigmas, g.sigmas) && Double.compare(guidanceScale, g.guidanceScale) == 0
                && guidanceMode == g.guidanceMode && noiseKeys.equals(g.noiseKeys) && width == g.width
                && height == g.height && imagesPerPrompt == g.imagesPerPrompt && scheduler.equals(g.scheduler)
                && noiseSource == g.noiseSource;
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(model, prompts, Arrays.hashCode(sigmas), noiseKeys, width, height);
    }
}
