package io.senseflow.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.TimestepSpec;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The settings of a {@link FlowMatchingTrainer} run, an immutable value with a JSON form (saved in checkpoints, so a
 * run is reproducible from its config and seed).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param seed seed of every random draw (noise levels, noise, condition dropout)
 * @param batchSize samples per step
 * @param steps the run's length
 * @param timesteps the noise-level sampler (default logit-normal(0, 1), unshifted; SD3 trains with shift 3)
 * @param conditionDropout probability of replacing a sample's conditioning by the unconditional one (so the model
 *     supports classifier-free guidance), in [0, 1)
 * @param optimizer the AdamW settings the model's optimizer was built with (recorded for reproducibility)
 */
public record FlowMatchingConfig(long seed, int batchSize, long steps, TimestepSpec timesteps, double conditionDropout,
                                 AdamWConfig optimizer) {

    public FlowMatchingConfig {
        if (batchSize < 1) {
            throw InvalidRequestException.of("batch_size", "at least 1", batchSize);
        }
        if (steps < 0) {
            throw InvalidRequestException.of("steps", "0 or more", steps);
        }
        if (timesteps == null) {
            throw InvalidRequestException.of("timesteps", "a sampler spec", "null");
        }
        if (!(conditionDropout >= 0 && conditionDropout < 1)) {
            throw InvalidRequestException.of("condition_dropout", "a probability in [0, 1)", conditionDropout);
        }
        if (optimizer == null) {
            throw InvalidRequestException.of("optimizer", "AdamW settings", "null");
        }
    }

    /**
     * @param seed the seed
     * @param batchSize samples per step
     * @param steps steps
     * @param optimizer AdamW settings
     * @return a config with logit-normal(0, 1) noise levels and no condition dropout
     */
    public static FlowMatchingConfig of(long seed, int batchSize, long steps, AdamWConfig optimizer) {
        return new FlowMatchingConfig(seed, batchSize, steps, new TimestepSpec.LogitNormal(0, 1, 1), 0, optimizer);
    }

    /** @param spec the sampler @return a copy with it */
    public FlowMatchingConfig withTimesteps(TimestepSpec spec) {
        return new FlowMatchingConfig(seed, batchSize, steps, spec, conditionDropout, optimizer);
    }

    /** @param p the probability @return a copy with that condition dropout */
    public FlowMatchingConfig withConditionDropout(double p) {
        return new FlowMatchingConfig(seed, batchSize, steps, timesteps, p, optimizer);
    }

    /** @param n steps @return a copy with that length */
    public FlowMatchingConfig withSteps(long n) {
        return new FlowMatchingConfig(seed, batchSize, n, timesteps, conditionDropout, optimizer);
    }

    /** @return the JSON form (pretty, deterministic) */
    public String toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", "flow-matching");
        m.put("seed", seed);
        m.put("batch_size", (long) batchSize);
        m.put("steps", steps);
        m.put("timesteps", timesteps.toJson());
        m.put("condition_dropout", conditionDropout);
        m.put("optimizer", optimizer.toJson());
        return Json.writePretty(m);
    }

    /**
     * @param json the JSON form; unknown fields are errors
     * @return the config
     * @throws InvalidRequestException naming the field
     */
    public static FlowMatchingConfig fromJson(String json) {
        try {
            JsonObject o = Json.parseObject(json);
            o.requireOnly(Set.of("kind", "seed", "batch_size", "steps", "timesteps", "condition_dropout", "optimizer"));
            if (!o.getString("kind").equals("flow-matching")) {
                throw InvalidRequestException.of("kind", "\"flow-matching\"", "\"" + o.getString("kind") + "\"");
            }
            return new FlowMatchingConfig(o.getLong("seed"), o.getInt("batch_size"), o.getLong("steps"),
                    TimestepSpec.fromJson(o.getObject("timesteps")), o.getDouble("condition_dropout"),
                    AdamWConfig.fromJson(o.getObject("optimizer")));
        } catch (JsonException e) {
            throw new InvalidRequestException("flow-matching config: " + e.getMessage(), e);
        }
    }
}
