package io.senseflow.examples.distill;

import io.senseflow.eval.FeatureStatistics;
import io.senseflow.eval.FrechetDistance;
import io.senseflow.examples.shapes.ShapeAttributes;
import io.senseflow.examples.shapes.eval.Adherence;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.examples.shapes.eval.ShapesEvaluation;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.tf.run.DistillationRun;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The distillation run's periodic evaluation: the in-training student (4 steps, in TensorFlow) on a fixed set of seen
 * prompts, judged by the attribute classifier: FD-T against the teacher's 50-step images of the same prompts and noise,
 * FD-data against real renders, all-attribute adherence. The teacher's images and the real renders are made once, at
 * the first evaluation. Small sample counts make these curves, not the final numbers (FD is biased upwards at small
 * counts; compare points of one curve, not with the 2,000-sample tables).
 *
 * <p>The classifier only measures; nothing of it reaches a gradient.
 */
public final class PeriodicEvaluation implements DistillRun.Evaluation {
    private final AttributeJudge judge;
    private final int count;
    private final long seed;
    private FeatureStatistics teacher;
    private FeatureStatistics real;
    private List<ShapeAttributes> prompts;

    /**
     * @param judge the attribute classifier (the caller closes it)
     * @param count images per evaluation
     * @param seed prompts and noise
     */
    public PeriodicEvaluation(AttributeJudge judge, int count, long seed) {
        this.judge = judge;
        this.count = count;
        this.seed = seed;
    }

    @Override
    public Map<String, Double> evaluate(DistillationRun run, long iteration) {
        int chunk = run.config().batchSize();   // the training batch: no new graph variant to import
        if (teacher == null) {
            prompts = ShapesEvaluation.seenPrompts(seed, count);
            ShapesEvaluation.Settings t = new ShapesEvaluation.Settings(count, 0, 50, null, seed, chunk);
            teacher = stats(ShapesEvaluation.generate(run.teacherModel().pipeline(), prompts, t, seed, n -> { },
                    CancellationToken.none()).images());
            real = stats(ShapesEvaluation.renders(prompts, seed + 101));
        }
        ShapesEvaluation.Settings s = new ShapesEvaluation.Settings(count, 0, run.config().anchors().length, null,
                seed, chunk);
        ShapesEvaluation.Samples samples;
        try (TextToImagePipeline student = ShapesRun.studentPipeline(run)) {
            samples = ShapesEvaluation.generate(student, prompts, s, seed, n -> { }, CancellationToken.none());
        }
        AttributeJudge.Judgement j = judge.judge(samples.images());
        Adherence a = new Adherence();
        a.add(prompts, j.predictions());
        FeatureStatistics mine = FeatureStatistics.of(j.featureRows());
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("fd_teacher", FrechetDistance.between(mine, teacher));
        m.put("fd_data", FrechetDistance.between(mine, real));
        m.put("adherence_seen", a.all());
        return m;
    }

    private FeatureStatistics stats(io.senseflow.tensor.Tensor images) {
        return FeatureStatistics.of(judge.judge(images).featureRows());
    }
}
