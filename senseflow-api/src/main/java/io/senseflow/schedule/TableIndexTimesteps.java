package io.senseflow.schedule;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;

/**
 * Uniform over integer indices [lo, hi] of a grid: {@code s = grid.level(i)}. For SD3.5 (shift 3) and indices
 * 20..980 this gives s in [0.060, 0.994] with mean 0.684 — uniform in index, not in s (docs/algorithm.md §4.2).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param grid the table
 * @param lo lowest index, inclusive
 * @param hi highest index, inclusive
 */
public record TableIndexTimesteps(SigmaGrid grid, int lo, int hi) implements TimestepSampler {
    public TableIndexTimesteps {
        if (grid == null || lo < 0 || hi >= grid.size() || lo > hi) {
            throw InvalidRequestException.of("table index range", "0 <= lo <= hi < " + (grid == null ? "?" : grid.size()),
                    "[" + lo + ", " + hi + "]");
        }
    }

    @Override
    public double sample(RandomStream rng) {
        return grid.level(lo + rng.nextInt(hi - lo + 1));
    }
}
