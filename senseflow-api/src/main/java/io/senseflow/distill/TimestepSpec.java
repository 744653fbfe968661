package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.json.JsonObject;
import io.senseflow.schedule.LogitNormalTimesteps;
import io.senseflow.schedule.Shift;
import io.senseflow.schedule.SigmaGrid;
import io.senseflow.schedule.TableIndexTimesteps;
import io.senseflow.schedule.TimestepSampler;
import io.senseflow.schedule.UniformTimesteps;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A serialisable description of a training noise-level sampler, as it appears in a {@link DistillationConfig}.
 *
 * <p>Its implementations are immutable records: safe to share between threads.
 */
public sealed interface TimestepSpec permits TimestepSpec.Uniform, TimestepSpec.TableIndex, TimestepSpec.DdpmIndex, TimestepSpec.LogitNormal {

    /** @return the sampler */
    TimestepSampler sampler();

    /** @return the JSON form */
    Map<String, Object> toJson();

    /**
     * Uniform on [lo, hi].
     *
     * @param lo lower end
     * @param hi upper end
     */
    record Uniform(double lo, double hi) implements TimestepSpec {
        public Uniform {
            new UniformTimesteps(lo, hi);
        }

        @Override
        public TimestepSampler sampler() {
            return new UniformTimesteps(lo, hi);
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "uniform");
            m.put("lo", lo);
            m.put("hi", hi);
            return m;
        }
    }

    /**
     * Uniform over indices [lo, hi] of the 1000-step table of a flow model with static shift {@code shift}
     * (SD3.5: shift 3, 20..980).
     *
     * @param shift the static shift (1 for none)
     * @param lo lowest index
     * @param hi highest index
     */
    record TableIndex(double shift, int lo, int hi) implements TimestepSpec {
        public TableIndex {
            sampler(shift, lo, hi);
        }

        private static TimestepSampler sampler(double shift, int lo, int hi) {
            return new TableIndexTimesteps(SigmaGrid.trainingTable(Shift.fixed(shift), 0), lo, hi);
        }

        @Override
        public TimestepSampler sampler() {
            return sampler(shift, lo, hi);
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "table-index");
            m.put("shift", shift);
            m.put("lo", (long) lo);
            m.put("hi", (long) hi);
            return m;
        }
    }

    /**
     * Uniform over integer timesteps [lo, hi] of the SD DDPM table, in the flow convention (SDXL: 20..980).
     *
     * @param lo lowest timestep
     * @param hi highest timestep
     */
    record DdpmIndex(int lo, int hi) implements TimestepSpec {
        public DdpmIndex {
            sampler(lo, hi);
        }

        private static TimestepSampler sampler(int lo, int hi) {
            return new TableIndexTimesteps(SigmaGrid.ddpm(io.senseflow.schedule.DdpmSchedule.stableDiffusion()), lo, hi);
        }

        @Override
        public TimestepSampler sampler() {
            return sampler(lo, hi);
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "ddpm-index");
            m.put("lo", (long) lo);
            m.put("hi", (long) hi);
            return m;
        }
    }

    /**
     * Logit-normal then a static shift (1 for none).
     *
     * @param mean location
     * @param std scale
     * @param shift static shift
     */
    record LogitNormal(double mean, double std, double shift) implements TimestepSpec {
        public LogitNormal {
            new LogitNormalTimesteps(mean, std, Shift.fixed(shift));
        }

        @Override
        public TimestepSampler sampler() {
            return new LogitNormalTimesteps(mean, std, shift == 1 ? Shift.none() : Shift.fixed(shift));
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "logit-normal");
            m.put("mean", mean);
            m.put("std", std);
            m.put("shift", shift);
            return m;
        }
    }

    /** @param o the JSON form @return the spec */
    static TimestepSpec fromJson(JsonObject o) {
        String kind = o.getString("kind");
        switch (kind) {
            case "uniform":
                return new Uniform(o.getDouble("lo"), o.getDouble("hi"));
            case "table-index":
                return new TableIndex(o.getDouble("shift"), o.getInt("lo"), o.getInt("hi"));
            case "ddpm-index":
                return new DdpmIndex(o.getInt("lo"), o.getInt("hi"));
            case "logit-normal":
                return new LogitNormal(o.getDouble("mean"), o.getDouble("std"), o.getDouble("shift"));
            default:
                throw InvalidRequestException.of(o.pathOf("kind"), "uniform, table-index, ddpm-index or logit-normal", "\"" + kind + "\"");
        }
    }
}
