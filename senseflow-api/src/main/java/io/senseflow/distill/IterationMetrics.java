package io.senseflow.distill;

import java.util.Map;

/**
 * What one iteration did, for listeners and logs.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param iteration the iteration (0-based) that just ran
 * @param generatorUpdated whether the generator took a step (every {@code ttur}-th iteration)
 * @param backwardSimulated whether the generator input came from backward simulation
 * @param losses each loss term by name ({@code dmd}, {@code isg}, {@code gan} after weighting; {@code fake_score},
 *     {@code discriminator_real}, {@code discriminator_fake})
 * @param outputGradientNorms each generator term's gradient norm in output space
 * @param parameterGradientNorms each module's global parameter-gradient norm before clipping
 * @param nonFinite non-finite counts by term
 * @param phaseNanos time per phase (objective phases include the network calls they make, which are also listed
 *     under {@code teacher}, {@code fake_score_forward} and {@code generator_forward})
 * @param skipped whether the batch was skipped under {@link DistillationConfig.NonFinitePolicy#SKIP}
 */
public record IterationMetrics(long iteration, boolean generatorUpdated, boolean backwardSimulated, Map<String, Double> losses,
        Map<String, Double> outputGradientNorms, Map<String, Double> parameterGradientNorms, Map<String, Integer> nonFinite,
        Map<String, Long> phaseNanos, boolean skipped) {
    public IterationMetrics {
        losses = Map.copyOf(losses);
        outputGradientNorms = Map.copyOf(outputGradientNorms);
        parameterGradientNorms = Map.copyOf(parameterGradientNorms);
        nonFinite = Map.copyOf(nonFinite);
        phaseNanos = Map.copyOf(phaseNanos);
    }

    /** @return the iteration's total time */
    public long totalNanos() {
        return phaseNanos.getOrDefault("total", 0L);
    }
}
