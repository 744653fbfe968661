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
 * <p>What differs from the released setups (docs/algorithm.md §4.5), and why (measurements in
 * {@code docs/results.md}, "Diagnosis of the overshoot" and "Recipe fixes"):
 * <ul>
 *   <li>learning rates {@value #GENERATOR_LEARNING_RATE} for G and {@value #LEARNING_RATE} for F and D instead of
 *       1e-6: the released rate is for billion-parameter models fine-tuned for thousands of GPU hours; a
 *       2-million-parameter model distilled in minutes needs larger ones (with G at 1e-4 the student overshoots the
 *       guided teacher within 250 iterations);</li>
 *   <li>warm-up of {@value #WARMUP} iterations for all three: F and D step every iteration ({@value #WARMUP} of their
 *       steps), G every {@value #TTUR}th ({@value #GENERATOR_WARMUP} generator steps). Warm-up counts each
 *       optimizer's own steps; the first presets gave G {@value #WARMUP} steps too, i.e. 500 iterations, so G never
 *       reached its rate in their 300-iteration budget;</li>
 *   <li>the DMD real score uses the teacher with CFG {@value #DMD_GUIDANCE}, not its sampling guidance
 *       {@value #GUIDANCE}: DMD's push is the guidance term {@code (w - 1)(x0_c - x0_u)} almost entirely and does not
 *       shrink as the student approaches the guided teacher, so at w = 3 the student passes the CFG-3 teacher's
 *       samples after about 300 iterations and moves away from the data and the teacher together; at w = 1.5 the
 *       fake score's learned part is comparable to the push, and the student keeps approaching the CFG-3 teacher
 *       (chosen on a validation evaluation, prompts of seed 77). ISG's teacher step keeps {@value #GUIDANCE}: its
 *       target is the CFG-3 teacher's trajectory;</li>
 *   <li>batch {@value #BATCH} and {@value #ITERATIONS} iterations: about seven minutes on two quiet CPU cores (the
 *       quickstart's budget). On the validation evaluation FD-T falls until about iteration 1,600 and is flat
 *       from there to 3,000; on the final evaluation the 3,000-iteration student is no closer to the teacher than
 *       this one;</li>
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
    public static final long ITERATIONS = 1500;
    /** AdamW learning rate of F and D. */
    public static final double LEARNING_RATE = 1e-4;
    /** AdamW learning rate of G. */
    public static final double GENERATOR_LEARNING_RATE = 1e-5;
    /** Warm-up of F and D in their own steps (one per iteration): they reach their rate at iteration 100. */
    public static final int WARMUP = 100;
    /** Generator update every TTUR-th iteration. */
    public static final int TTUR = 5;
    /**
     * Warm-up of G in generator steps: {@value #WARMUP} iterations, like F and D. Warm-up counts each optimizer's own
     * steps and G steps every {@value #TTUR}th iteration, so the same number of steps would be 500 iterations.
     */
    public static final int GENERATOR_WARMUP = WARMUP / TTUR;
    /** The teacher's guidance scale in the ISG teacher step: the bundled teacher's default, the target of FD-T. */
    public static final double GUIDANCE = 3.0;
    /** The teacher's guidance scale in the DMD real score (see the class comment for why not {@value #GUIDANCE}). */
    public static final double DMD_GUIDANCE = 1.5;
    /** Weight of the ISG term (when the recipe has it). */
    public static final double ISG_WEIGHT = 1.0;

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
                .withLearningRate(LearningRateSchedule.constant(GENERATOR_LEARNING_RATE, GENERATOR_WARMUP));
        // the bundled teacher samples like SD3.5 (static shift 3, CFG): its family's grids and samplers fit
        DistillationConfig base = DistillationConfig.preset(recipe, Family.SD35_LARGE);
        TeacherGuidance cfg = new TeacherGuidance.Cfg(GUIDANCE, GUIDANCE);
        TeacherGuidance realScore = new TeacherGuidance.Cfg(DMD_GUIDANCE, DMD_GUIDANCE);
        DistillationConfig.Isg isg = base.isg();
        return base.toBuilder().seed(0).batchSize(BATCH).iterations(ITERATIONS).ttur(TTUR).optimizers(adam)
                .generatorOptimizer(generatorAdam)
                .dmd(new DistillationConfig.Dmd(true, 1, base.dmd().noiseLevels(), realScore))
                .isg(new DistillationConfig.Isg(isg.enabled(), ISG_WEIGHT, isg.grid(), isg.margin(), cfg,
                        isg.distance()))
                .gan(new DistillationConfig.Gan(recipe.gan(), GanWeighting.sd35Released(),
                        recipe.gan() ? DiscriminatorKind.FAKE_SCORE_FEATURES : DiscriminatorKind.NONE))
                .build();
    }
}
