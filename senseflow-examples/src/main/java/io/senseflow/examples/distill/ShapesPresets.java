package io.senseflow.examples.distill;

import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Family;
import io.senseflow.distill.GanWeighting;
import io.senseflow.distill.Recipe;
import io.senseflow.distill.TeacherGuidance;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.LearningRateSchedule;

/**
 * The distillation presets of the Shapes demo: each {@link Recipe} with the {@link Family#CUSTOM} constants, tuned for
 * the small Shapes flow transformer on two CPU cores. Every preset has the same budget and the same constants; they
 * differ only in which terms are on, so that the ablation compares the terms and nothing else.
 *
 * <p>What differs from the released setups (docs/algorithm.md §4.5), and why:
 * <ul>
 *   <li>learning rates {@value #GENERATOR_LEARNING_RATE} for G and {@value #LEARNING_RATE} for F and D after
 *       {@value #WARMUP} warm-up steps instead of 1e-6: the released rate is for billion-parameter models fine-tuned
 *       for thousands of GPU hours; a 2-million-parameter model distilled in minutes needs larger ones. With G at 1e-4
 *       the student overshoots the guided teacher within 250 iterations; at 1e-5 it approaches it for about 300
 *       iterations and then overshoots too (measured: see {@code docs/results.md}). Warm-up counts each optimizer's
 *       own steps and G steps every {@value #TTUR}th iteration: G's {@value #WARMUP} warm-up steps are 500 iterations,
 *       so within the {@value #ITERATIONS}-iteration budget G's rate rises linearly to 0.6 of its peak and never
 *       reaches it (F and D reach theirs at iteration {@value #WARMUP});</li>
 *   <li>batch {@value #BATCH} and {@value #ITERATIONS} iterations: where the student is closest to the guided teacher
 *       at these rates (chosen on 128-image evaluations during distillation, see {@code docs/results.md}); about
 *       three minutes on two CPU cores;</li>
 *   <li>the GAN term uses DMD2's discriminator on the fake score's features ({@code fake-score-features}): no DINOv2
 *       weights exist offline, and Shapes' tiny images carry no signal a natural-image backbone would add;</li>
 *   <li>TTUR {@value #TTUR}: the fake score gets a few updates per generator step, as in every released setup, but
 *       fewer than the released 5–10 because a short run needs its generator steps.</li>
 * </ul>
 */
public final class ShapesPresets {
    /** Samples per iteration. */
    public static final int BATCH = 16;
    /** The budget of every preset. */
    public static final long ITERATIONS = 300;
    /** AdamW learning rate of F and D. */
    public static final double LEARNING_RATE = 1e-4;
    /** AdamW learning rate of G. */
    public static final double GENERATOR_LEARNING_RATE = 1e-5;
    /** Warm-up steps of every optimizer. */
    public static final int WARMUP = 100;
    /** Generator update every TTUR-th iteration. */
    public static final int TTUR = 5;
    /** The teacher's guidance scale in the DMD real score and the ISG teacher step: the bundled teacher's default. */
    public static final double GUIDANCE = 3.0;

    private ShapesPresets() {
    }

    /**
     * @param name {@code vanilla-dmd}, {@code dmd+ida}, {@code dmd+ida+isg} or {@code senseflow}
     * @return the preset
     * @throws io.senseflow.InvalidRequestException naming the valid presets
     */
    public static DistillationConfig named(String name) {
        return of(Recipe.fromId(name));
    }

    /** @param recipe the terms @return the Shapes preset of that recipe */
    public static DistillationConfig of(Recipe recipe) {
        AdamWConfig adam = AdamWConfig.released().withLearningRate(LearningRateSchedule.constant(LEARNING_RATE, WARMUP));
        AdamWConfig generatorAdam = AdamWConfig.released()
                .withLearningRate(LearningRateSchedule.constant(GENERATOR_LEARNING_RATE, WARMUP));
        // the bundled teacher samples like SD3.5 (static shift 3, CFG): its family's grids and samplers fit
        DistillationConfig base = DistillationConfig.preset(recipe, Family.SD35_LARGE);
        TeacherGuidance cfg = new TeacherGuidance.Cfg(GUIDANCE, GUIDANCE);
        DistillationConfig.Isg isg = base.isg();
        return base.toBuilder().seed(0).batchSize(BATCH).iterations(ITERATIONS).ttur(TTUR).optimizers(adam)
                .generatorOptimizer(generatorAdam)
                .dmd(new DistillationConfig.Dmd(true, 1, base.dmd().noiseLevels(), cfg))
                .isg(new DistillationConfig.Isg(isg.enabled(), isg.weight(), isg.grid(), isg.margin(), cfg,
                        isg.distance()))
                .gan(new DistillationConfig.Gan(recipe.gan(), GanWeighting.sd35Released(),
                        recipe.gan() ? DiscriminatorKind.FAKE_SCORE_FEATURES : DiscriminatorKind.NONE))
                .build();
    }
}
