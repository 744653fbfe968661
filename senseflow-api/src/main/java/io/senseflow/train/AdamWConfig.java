package io.senseflow.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * AdamW (Loshchilov and Hutter) with decoupled weight decay and global-norm clipping. The released SenseFlow
 * setups (docs/algorithm.md §4.5): betas 0.9/0.999, epsilon 1e-8, no weight decay, lr 1e-6 after 500 warm-up steps,
 * clip 1.0.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param learningRate the rate schedule
 * @param beta1 first-moment decay
 * @param beta2 second-moment decay
 * @param epsilon denominator term
 * @param weightDecay decoupled decay per unit learning rate
 * @param clipNorm global gradient-norm bound (0 or less: no clipping)
 */
public record AdamWConfig(LearningRateSchedule learningRate, double beta1, double beta2, double epsilon,
        double weightDecay, double clipNorm) {

    public AdamWConfig {
        if (learningRate == null) {
            throw InvalidRequestException.of("learningRate", "a schedule", "null");
        }
        if (!(beta1 >= 0 && beta1 < 1)) {
            throw InvalidRequestException.of("beta1", "a value in [0, 1)", beta1);
        }
        if (!(beta2 >= 0 && beta2 < 1)) {
            throw InvalidRequestException.of("beta2", "a value in [0, 1)", beta2);
        }
        if (!(epsilon > 0)) {
            throw InvalidRequestException.of("epsilon", "a positive value", epsilon);
        }
        if (!(weightDecay >= 0)) {
            throw InvalidRequestException.of("weightDecay", "a value >= 0", weightDecay);
        }
    }

    /** @return the released SenseFlow setting: lr 1e-6 constant after 500 warm-up steps, clip 1.0 */
    public static AdamWConfig released() {
        return new AdamWConfig(LearningRateSchedule.constant(1e-6, 500), 0.9, 0.999, 1e-8, 0, 1.0);
    }

    /** @param rate constant learning rate, no warm-up @return Adam defaults otherwise, clip 1.0 */
    public static AdamWConfig constant(double rate) {
        return new AdamWConfig(LearningRateSchedule.constant(rate, 0), 0.9, 0.999, 1e-8, 0, 1.0);
    }

    /** @param schedule the schedule @return a copy with it */
    public AdamWConfig withLearningRate(LearningRateSchedule schedule) {
        return new AdamWConfig(schedule, beta1, beta2, epsilon, weightDecay, clipNorm);
    }

    /** @param b1 beta1 @param b2 beta2 @return a copy with these betas */
    public AdamWConfig withBetas(double b1, double b2) {
        return new AdamWConfig(learningRate, b1, b2, epsilon, weightDecay, clipNorm);
    }

    /** @param clip the bound @return a copy with it */
    public AdamWConfig withClipNorm(double clip) {
        return new AdamWConfig(learningRate, beta1, beta2, epsilon, weightDecay, clip);
    }

    /** @param decay decoupled weight decay @return a copy with it */
    public AdamWConfig withWeightDecay(double decay) {
        return new AdamWConfig(learningRate, beta1, beta2, epsilon, decay, clipNorm);
    }

    /**
     * @return the JSON form used in run configs: {@code lr}, {@code warmup}, {@code decay} ({@code constant} or
     *     {@code cosine}), {@code total_steps}, {@code min_lr}, {@code beta1}, {@code beta2}, {@code epsilon},
     *     {@code weight_decay}, {@code clip_norm}
     */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("lr", learningRate.peak());
        m.put("warmup", (long) learningRate.warmupSteps());
        m.put("decay", learningRate.decay().name().toLowerCase(Locale.ROOT));
        m.put("total_steps", learningRate.totalSteps());
        m.put("min_lr", learningRate.minimum());
        m.put("beta1", beta1);
        m.put("beta2", beta2);
        m.put("epsilon", epsilon);
        m.put("weight_decay", weightDecay);
        m.put("clip_norm", clipNorm);
        return m;
    }

    /**
     * @param o the JSON form of {@link #toJson()}; unknown fields are errors
     * @return the config
     * @throws InvalidRequestException or {@link io.senseflow.json.JsonException} naming the field
     */
    public static AdamWConfig fromJson(JsonObject o) {
        o.requireOnly(Set.of("lr", "warmup", "decay", "total_steps", "min_lr", "beta1", "beta2", "epsilon",
                "weight_decay", "clip_norm"));
        LearningRateSchedule.Decay decay;
        try {
            decay = LearningRateSchedule.Decay.valueOf(o.getString("decay").toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw InvalidRequestException.of(o.pathOf("decay"), "constant or cosine", o.getString("decay"));
        }
        return new AdamWConfig(new LearningRateSchedule(o.getDouble("lr"), o.getInt("warmup"), decay,
                o.getLong("total_steps"), o.getDouble("min_lr")), o.getDouble("beta1"), o.getDouble("beta2"),
                o.getDouble("epsilon"), o.getDouble("weight_decay"), o.getDouble("clip_norm"));
    }
}
