package io.senseflow.examples.shapes.eval;

import io.senseflow.InvalidRequestException;
import io.senseflow.eval.FeatureStatistics;
import io.senseflow.eval.FrechetDistance;
import io.senseflow.examples.shapes.ShapeAttributes;
import io.senseflow.examples.shapes.ShapesDataset;
import io.senseflow.image.Image;
import io.senseflow.noise.NoiseKey;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.pipeline.ProgressListener;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Shapes evaluation of a text-to-image model, judged by the {@link AttributeJudge}:
 * <ul>
 *   <li><b>adherence</b>: per-attribute and all-attribute accuracy of generated images against their prompts, on seen
 *       prompts (combinations of the TRAIN split) and held-out prompts (the held-out colour-shape pairs) separately;</li>
 *   <li><b>FD-data</b>: Fréchet distance between the judge's features of the images generated for the seen prompts and
 *       of real renders of the same prompts (other jitter); <b>floor</b>: the same distance between two independent
 *       sets of real renders of that count;</li>
 *   <li><b>FD-T</b> (with a reference model, normally the teacher at 50 steps): the distance between the model's
 *       images and the reference's for the same prompts and the same noise.</li>
 * </ul>
 * Prompts are a pure function of the seed: seen prompt {@code j} is the attributes of sample {@code j} of
 * {@code ShapesDataset(seed, TRAIN)}, held-out prompt {@code j} of {@code ShapesDataset(seed, HELD_OUT)}; image
 * {@code j} uses noise key {@code (seed, j)} (held-out: {@code (seed + 1, j)}), whatever the chunking.
 */
public final class ShapesEvaluation {

    /**
     * @param seenCount images for seen prompts (FD statistics use these; at least 2 for a covariance)
     * @param heldOutCount images for held-out prompts (0 for none)
     * @param steps sampling steps, or null for the model's default
     * @param guidance guidance scale, or null for the model's default
     * @param seed prompts and noise
     * @param chunk prompts per pipeline call
     */
    public record Settings(int seenCount, int heldOutCount, Integer steps, Double guidance, long seed, int chunk) {
        public Settings {
            if (seenCount < 2) {
                throw InvalidRequestException.of("seen count", "at least 2", seenCount);
            }
            if (heldOutCount < 0) {
                throw InvalidRequestException.of("held-out count", "0 or more", heldOutCount);
            }
            if (chunk < 1) {
                throw InvalidRequestException.of("chunk", "at least 1", chunk);
            }
        }

        /** @param n steps @return a copy with that step count */
        public Settings withSteps(Integer n) {
            return new Settings(seenCount, heldOutCount, n, guidance, seed, chunk);
        }

        /** @param g guidance @return a copy with that guidance */
        public Settings withGuidance(Double g) {
            return new Settings(seenCount, heldOutCount, steps, g, seed, chunk);
        }
    }

    /**
     * Generated images and how long they took.
     *
     * @param images {@code [N, 3, H, W]} as written (8-bit values)
     * @param prompts their attributes
     * @param seconds wall time of the generation
     */
    public record Samples(Tensor images, List<ShapeAttributes> prompts, double seconds) {
        /** @return wall time per image */
        public double secondsPerImage() {
            return seconds / Math.max(1, prompts.size());
        }
    }

    /**
     * The results.
     *
     * @param seen adherence on seen prompts
     * @param heldOut adherence on held-out prompts (empty when none were asked for)
     * @param fdData FD-data
     * @param fdFloor real-vs-real FD at the same count
     * @param fdTeacher FD-T, or NaN without a reference model
     * @param seenSamples the images of the seen prompts
     * @param heldOutSamples the images of the held-out prompts, or null
     */
    public record Report(Adherence seen, Adherence heldOut, double fdData, double fdFloor, double fdTeacher,
                         Samples seenSamples, Samples heldOutSamples) {
        /** @return JSON-ready metrics */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("adherence_seen", seen.toMap());
            m.put("adherence_held_out", heldOut.toMap());
            m.put("fd_data", fdData);
            m.put("fd_real_vs_real_floor", fdFloor);
            m.put("fd_teacher", Double.isNaN(fdTeacher) ? null : fdTeacher);
            m.put("fd_samples", (long) seenSamples.prompts().size());
            m.put("seconds_per_image", seenSamples.secondsPerImage());
            return m;
        }
    }

    private ShapesEvaluation() {
    }

    /** @param seed the seed @param n count @return the seen prompts' attributes */
    public static List<ShapeAttributes> seenPrompts(long seed, int n) {
        return prompts(new ShapesDataset(seed, ShapesDataset.Split.TRAIN), n);
    }

    /** @param seed the seed @param n count @return the held-out prompts' attributes */
    public static List<ShapeAttributes> heldOutPrompts(long seed, int n) {
        return prompts(new ShapesDataset(seed, ShapesDataset.Split.HELD_OUT), n);
    }

    private static List<ShapeAttributes> prompts(ShapesDataset d, int n) {
        List<ShapeAttributes> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(d.attributes(i));
        }
        return out;
    }

    /**
     * Generates one image per prompt; image {@code j} uses noise key {@code (noiseSeed, j)}.
     *
     * @param pipeline the model's pipeline
     * @param prompts the prompts' attributes
     * @param s steps, guidance and chunk size
     * @param noiseSeed the noise seed
     * @param progress called with the number of images done
     * @param cancellation checked between chunks
     * @return the images, quantised to 8 bits as a PNG would hold them
     */
    public static Samples generate(TextToImagePipeline pipeline, List<ShapeAttributes> prompts, Settings s, long noiseSeed,
                                   java.util.function.IntConsumer progress, CancellationToken cancellation) {
        List<Tensor> parts = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int first = 0; first < prompts.size(); first += s.chunk()) {
            if (cancellation.isCancelled()) {
                throw new io.senseflow.CancelledException("evaluation cancelled after " + first + " images");
            }
            int end = Math.min(prompts.size(), first + s.chunk());
            List<String> captions = new ArrayList<>();
            List<NoiseKey> keys = new ArrayList<>();
            for (int j = first; j < end; j++) {
                captions.add(prompts.get(j).caption());
                keys.add(new NoiseKey(noiseSeed, j));
            }
            GenerationRequest.Builder b = GenerationRequest.builder().prompts(captions).noiseKeys(keys);
            if (s.steps() != null) {
                b.numInferenceSteps(s.steps());
            }
            if (s.guidance() != null) {
                b.guidanceScale(s.guidance());
            }
            GenerationResult r = pipeline.generate(b.build(), ProgressListener.none(), cancellation);
            for (Image img : r.images()) {
                parts.add(img.toTensor());
            }
            progress.accept(end);
        }
        return new Samples(Tensor.concatBatch(parts), List.copyOf(prompts), (System.nanoTime() - t0) / 1e9);
    }

    /**
     * Runs the whole evaluation.
     *
     * @param model the model under test
     * @param reference the model whose images FD-T compares against (normally the teacher), or null
     * @param referenceSettings steps and guidance for the reference (normally 50 steps, its default guidance)
     * @param judge the classifier
     * @param s settings
     * @param log progress messages
     * @param cancellation checked between chunks
     * @return the report
     */
    public static Report run(TextToImagePipeline model, TextToImagePipeline reference, Settings referenceSettings,
                             AttributeJudge judge, Settings s, java.util.function.Consumer<String> log,
                             CancellationToken cancellation) {
        List<ShapeAttributes> seen = seenPrompts(s.seed(), s.seenCount());
        log.accept("generating " + seen.size() + " images for seen prompts");
        Samples seenSamples = generate(model, seen, s, s.seed(), n -> { }, cancellation);
        Adherence seenAdherence = new Adherence();
        AttributeJudge.Judgement gen = judge.judge(seenSamples.images());
        seenAdherence.add(seen, gen.predictions());

        Adherence heldAdherence = new Adherence();
        Samples heldSamples = null;
        if (s.heldOutCount() > 0) {
            List<ShapeAttributes> held = heldOutPrompts(s.seed(), s.heldOutCount());
            log.accept("generating " + held.size() + " images for held-out prompts");
            heldSamples = generate(model, held, s, s.seed() + 1, n -> { }, cancellation);
            heldAdherence.add(held, judge.judge(heldSamples.images()).predictions());
        }

        log.accept("real renders and Fréchet distances");
        FeatureStatistics genStats = FeatureStatistics.of(gen.featureRows());
        FeatureStatistics realA = FeatureStatistics.of(judge.judge(renders(seen, s.seed() + 101)).featureRows());
        FeatureStatistics realB = FeatureStatistics.of(judge.judge(renders(seen, s.seed() + 202)).featureRows());
        double fdData = FrechetDistance.between(genStats, realA);
        double floor = FrechetDistance.between(realA, realB);
        double fdT = Double.NaN;
        if (reference != null) {
            log.accept("generating the reference's images for FD-T");
            Samples ref = generate(reference, seen, referenceSettings, s.seed(), n -> { }, cancellation);
            fdT = FrechetDistance.between(genStats, FeatureStatistics.of(judge.judge(ref.images()).featureRows()));
        }
        return new Report(seenAdherence, heldAdherence, fdData, floor, fdT, seenSamples, heldSamples);
    }

    /**
     * Real renders of given attributes: image {@code j} is rendered with jitter stream {@code (seed, j)}.
     *
     * @param attributes what to render
     * @param seed jitter seed
     * @return {@code [N, 3, 32, 32]} in [-1, 1]
     */
    public static Tensor renders(List<ShapeAttributes> attributes, long seed) {
        List<Tensor> parts = new ArrayList<>(attributes.size());
        for (int j = 0; j < attributes.size(); j++) {
            parts.add(io.senseflow.examples.shapes.ShapesRenderer.render(attributes.get(j),
                    new io.senseflow.noise.RandomStream(seed, 0x5349, j)).toTensor());
        }
        return Tensor.concatBatch(parts);
    }
}
