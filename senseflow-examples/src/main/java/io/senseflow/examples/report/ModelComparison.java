package io.senseflow.examples.report;

import io.senseflow.InvalidRequestException;
import io.senseflow.eval.FeatureStatistics;
import io.senseflow.eval.FrechetDistance;
import io.senseflow.examples.shapes.ShapeAttributes;
import io.senseflow.examples.shapes.eval.Adherence;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.examples.shapes.eval.ShapesEvaluation;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.TextToImagePipeline;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Several samplers evaluated on the same prompts and the same noise, so that their numbers compare: for each one,
 * prompt adherence on seen and held-out prompts, FD-data against real renders, FD-T against the reference (the
 * teacher at 50 steps), NFE and wall time per image ({@link ShapesEvaluation}'s prompts, noise keys and judge). The
 * reference's own FD-T is measured against a second draw of itself with other noise: the FD-T a perfect copy of the
 * teacher would get at this sample count. The real-vs-real floor is measured once.
 */
public final class ModelComparison {
    /** Noise seed offset of the reference's second draw (its own FD-T). */
    static final long SECOND_DRAW = 7919;

    private ModelComparison() {
    }

    /**
     * A sampler under test.
     *
     * @param name its row label
     * @param pipeline its pipeline (not closed here)
     * @param steps sampling steps
     * @param guidance the guidance scale (ignored by guidance-free models), or null for the model's default
     * @param nfe network evaluations per image (steps, times 2 with classifier-free guidance)
     * @param fingerprint identifies the model's files for a {@link ComparisonCache}; null: never cached
     */
    public record Entry(String name, TextToImagePipeline pipeline, int steps, Double guidance, int nfe,
                        String fingerprint) {
        public Entry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(pipeline, "pipeline");
        }

        /** An entry that is always measured. */
        public Entry(String name, TextToImagePipeline pipeline, int steps, Double guidance, int nfe) {
            this(name, pipeline, steps, guidance, nfe, null);
        }
    }

    /**
     * One sampler's results.
     *
     * @param name the label
     * @param steps sampling steps
     * @param nfe network evaluations per image
     * @param seen adherence on seen prompts
     * @param heldOut adherence on held-out prompts
     * @param fdData FD against real renders of the seen prompts
     * @param fdTeacher FD against the reference's images of the same prompts and noise (for the reference: against its
     *     draw with other noise)
     * @param secondsPerImage generation wall time per image (seen prompts)
     * @param cached whether the row was read from a {@link ComparisonCache} (measured in an earlier run; its time per
     *     image is that run's)
     */
    public record Row(String name, int steps, int nfe, Adherence seen, Adherence heldOut, double fdData,
                      double fdTeacher, double secondsPerImage, boolean cached) {
        /** A row measured now. */
        public Row(String name, int steps, int nfe, Adherence seen, Adherence heldOut, double fdData, double fdTeacher,
                   double secondsPerImage) {
            this(name, steps, nfe, seen, heldOut, fdData, fdTeacher, secondsPerImage, false);
        }

        /** @return JSON-ready values */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("steps", (long) steps);
            m.put("nfe", (long) nfe);
            m.put("fd_data", fdData);
            m.put("fd_teacher", fdTeacher);
            m.put("adherence_seen", seen.toMap());
            m.put("adherence_held_out", heldOut.toMap());
            m.put("seconds_per_image", secondsPerImage);
            if (cached) {
                m.put("cached", true);
            }
            return m;
        }
    }

    /**
     * All rows.
     *
     * @param rows one per entry, in order
     * @param floor real-vs-real FD at the seen count
     * @param seenCount images per sampler for seen prompts (the FD sample size)
     * @param heldOutCount images per sampler for held-out prompts
     * @param seed prompts and noise seed
     */
    public record Result(List<Row> rows, double floor, int seenCount, int heldOutCount, long seed) {
        /** @return JSON-ready values */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("fd_samples", (long) seenCount);
            m.put("held_out_samples", (long) heldOutCount);
            m.put("seed", seed);
            m.put("fd_real_vs_real_floor", floor);
            List<Object> r = new ArrayList<>();
            rows.forEach(x -> r.add(x.toMap()));
            m.put("rows", r);
            return m;
        }

        /** @param name a row's label @return the row */
        public Row row(String name) {
            return rows.stream().filter(r -> r.name().equals(name)).findFirst().orElseThrow(() ->
                    InvalidRequestException.of("row", "one of " + rows.stream().map(Row::name).toList(), name));
        }
    }

    /**
     * Runs every entry.
     *
     * @param entries the samplers; the first is the reference (normally the teacher at 50 steps)
     * @param judge the attribute classifier
     * @param seenCount images per sampler for seen prompts (at least 2)
     * @param heldOutCount images per sampler for held-out prompts
     * @param seed prompts and noise seed
     * @param chunk prompts per pipeline call
     * @param log progress messages
     * @param cancellation checked between chunks
     * @return the rows
     */
    public static Result run(List<Entry> entries, AttributeJudge judge, int seenCount, int heldOutCount, long seed,
                             int chunk, Consumer<String> log, CancellationToken cancellation) {
        return run(entries, judge, seenCount, heldOutCount, seed, chunk, log, cancellation, null, null, true);
    }

    /**
     * Runs every entry, reusing the rows of a cache where an entry has a fingerprint and the cache holds its row
     * under the same key, and adding every fingerprinted row it measures to the cache.
     *
     * @param entries the samplers; the first is the reference (normally the teacher at 50 steps)
     * @param judge the attribute classifier
     * @param seenCount images per sampler for seen prompts (at least 2)
     * @param heldOutCount images per sampler for held-out prompts
     * @param seed prompts and noise seed
     * @param chunk prompts per pipeline call
     * @param log progress messages
     * @param cancellation checked between chunks
     * @param cache rows measured before, and where new ones go; null for none
     * @param judgeFingerprint identifies the judge (part of every cache key); required with a cache
     * @param referenceSelfDistance whether to sample the reference a second time with other noise for its own FD-T
     *     (as many images again at the reference's cost, usually the largest of the comparison); without it the
     *     reference's FD-T is NaN
     * @return the rows
     */
    public static Result run(List<Entry> entries, AttributeJudge judge, int seenCount, int heldOutCount, long seed,
                             int chunk, Consumer<String> log, CancellationToken cancellation, ComparisonCache cache,
                             String judgeFingerprint, boolean referenceSelfDistance) {
        if (cache != null) {
            Objects.requireNonNull(judgeFingerprint, "judgeFingerprint");
        }
        if (entries.isEmpty()) {
            throw InvalidRequestException.of("entries", "at least the reference", "none");
        }
        List<ShapeAttributes> seen = ShapesEvaluation.seenPrompts(seed, seenCount);
        List<ShapeAttributes> held = ShapesEvaluation.heldOutPrompts(seed, heldOutCount);
        FeatureStatistics realA = stats(judge, ShapesEvaluation.renders(seen, seed + 101));
        FeatureStatistics realB = stats(judge, ShapesEvaluation.renders(seen, seed + 202));
        double floor = FrechetDistance.between(realA, realB);
        FeatureStatistics reference = null;
        List<Row> rows = new ArrayList<>();
        for (int e = 0; e < entries.size(); e++) {
            Entry entry = entries.get(e);
            String key = cache == null || entry.fingerprint() == null ? null : ComparisonCache.key(entry.fingerprint(),
                    judgeFingerprint, entry, seenCount, heldOutCount, seed, chunk,
                    e != 0 ? "" : referenceSelfDistance ? "reference+self" : "reference");
            java.util.Optional<ComparisonCache.Cached> hit = key == null ? java.util.Optional.empty() : cache.get(key);
            if (hit.isPresent()) {
                log.accept(entry.name() + ": measured before (cached)");
                FeatureStatistics mine = hit.get().features();
                ModelComparison.Row r = hit.get().row();
                double fdT = e == 0 ? r.fdTeacher() : FrechetDistance.between(mine, reference);
                if (e == 0) {
                    reference = mine;
                }
                rows.add(new Row(entry.name(), entry.steps(), entry.nfe(), r.seen(), r.heldOut(), r.fdData(), fdT,
                        r.secondsPerImage(), true));
                continue;
            }
            ShapesEvaluation.Settings s = new ShapesEvaluation.Settings(seenCount, heldOutCount, entry.steps(),
                    entry.guidance(), seed, chunk);
            log.accept(entry.name() + ": " + seenCount + " + " + heldOutCount + " images");
            ShapesEvaluation.Samples samples = ShapesEvaluation.generate(entry.pipeline(), seen, s, seed, n -> { },
                    cancellation);
            AttributeJudge.Judgement j = judge.judge(samples.images());
            Adherence seenAdherence = new Adherence();
            seenAdherence.add(seen, j.predictions());
            Adherence heldAdherence = new Adherence();
            if (heldOutCount > 0) {
                ShapesEvaluation.Samples h = ShapesEvaluation.generate(entry.pipeline(), held, s, seed + 1, n -> { },
                        cancellation);
                heldAdherence.add(held, judge.judge(h.images()).predictions());
            }
            FeatureStatistics mine = FeatureStatistics.of(j.featureRows());
            double fdT;
            if (e == 0 && !referenceSelfDistance) {
                reference = mine;
                fdT = Double.NaN;
            } else if (e == 0) {
                reference = mine;
                ShapesEvaluation.Samples again = ShapesEvaluation.generate(entry.pipeline(), seen, s, seed + SECOND_DRAW,
                        n -> { }, cancellation);
                fdT = FrechetDistance.between(mine, stats(judge, again.images()));
            } else {
                fdT = FrechetDistance.between(mine, reference);
            }
            Row row = new Row(entry.name(), entry.steps(), entry.nfe(), seenAdherence, heldAdherence,
                    FrechetDistance.between(mine, realA), fdT, samples.secondsPerImage());
            rows.add(row);
            if (key != null) {
                cache.put(key, row, mine);
            }
        }
        return new Result(List.copyOf(rows), floor, seenCount, heldOutCount, seed);
    }

    private static FeatureStatistics stats(AttributeJudge judge, io.senseflow.tensor.Tensor images) {
        return FeatureStatistics.of(judge.judge(images).featureRows());
    }
}
