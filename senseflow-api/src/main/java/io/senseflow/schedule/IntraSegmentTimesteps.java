package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import java.util.Arrays;

/**
 * The point inside an anchor segment where intra-segment guidance hands over from the teacher to the generator
 * (docs/algorithm.md §4.3): for segment {@code (s_i, s_{i+1})} draw a grid index uniformly, strictly inside the
 * segment with {@code margin} indices kept free at both ends. The last segment ends at the grid's lowest level.
 *
 * <p>Released setups: SD3.5 uses the shifted 1000-step training table with margin 50; FLUX uses the linear grid
 * {@code t / 1000} with margin 20.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param anchors strictly decreasing anchors in (0, 1]
 * @param grid the index grid
 * @param margin indices kept free at each end, non-negative
 */
public record IntraSegmentTimesteps(double[] anchors, SigmaGrid grid, int margin) {
    public IntraSegmentTimesteps {
        anchors = FewStepScheduler.validateAnchors(anchors, "anchors");
        if (grid == null || margin < 0) {
            throw InvalidRequestException.of("intra-segment sampler", "a grid and a non-negative margin", margin);
        }
        for (int i = 0; i < anchors.length; i++) {
            int hi = grid.nearestIndex(anchors[i]);
            int lo = i + 1 < anchors.length ? grid.nearestIndex(anchors[i + 1]) : 0;
            if (hi - lo - 2 * margin < 0) {
                throw InvalidRequestException.of("ISG margin", "segment " + i + " of " + Arrays.toString(anchors)
                        + " to hold at least one grid index after a margin of " + margin + " at each end",
                        (hi - lo) + " indices");
            }
        }
    }

    @Override
    public double[] anchors() {
        return anchors.clone();
    }

    /** @param i anchor index @return the level where segment {@code i} ends ({@code s_{i+1}}, or the grid's lowest) */
    public double segmentEnd(int i) {
        return i + 1 < anchors.length ? anchors[i + 1] : grid.lowest();
    }

    /**
     * @param segment the anchor index i of segment {@code (s_i, s_{i+1})}
     * @param rng random source
     * @return a level strictly inside the segment
     */
    public double sample(int segment, RandomStream rng) {
        int hi = grid.nearestIndex(anchors[segment]) - margin;
        int lo = (segment + 1 < anchors.length ? grid.nearestIndex(anchors[segment + 1]) : 0) + margin;
        if (margin == 0) {
            // keep the point strictly inside even without a margin
            lo = Math.min(lo + 1, hi);
            hi = Math.max(hi - 1, lo);
        }
        return grid.level(lo + rng.nextInt(hi - lo + 1));
    }
}
