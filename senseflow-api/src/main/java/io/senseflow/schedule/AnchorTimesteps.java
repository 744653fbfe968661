package io.senseflow.schedule;

import io.senseflow.noise.RandomStream;

/**
 * Uniform over a list of anchors (docs/algorithm.md §4.1): the distillation loop draws the anchor index with
 * {@link #sampleIndex}, the level follows.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param anchors strictly decreasing anchors in (0, 1]
 */
public record AnchorTimesteps(double[] anchors) implements TimestepSampler {
    public AnchorTimesteps {
        anchors = FewStepScheduler.validateAnchors(anchors, "anchors");
    }

    @Override
    public double[] anchors() {
        return anchors.clone();
    }

    /** @param rng random source @return a uniform anchor index */
    public int sampleIndex(RandomStream rng) {
        return rng.nextInt(anchors.length);
    }

    @Override
    public double sample(RandomStream rng) {
        return anchors[sampleIndex(rng)];
    }
}
