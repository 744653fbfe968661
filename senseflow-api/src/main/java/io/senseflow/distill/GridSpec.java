package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.json.JsonObject;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.schedule.Shift;
import io.senseflow.schedule.SigmaGrid;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A serialisable description of an index grid of noise levels (ISG's hand-over grid).
 *
 * <p>Its implementations are immutable records: safe to share between threads.
 */
public sealed interface GridSpec permits GridSpec.FlowTable, GridSpec.Linear, GridSpec.Ddpm {

    /** @return the grid */
    SigmaGrid grid();

    /** @return the JSON form */
    Map<String, Object> toJson();

    /**
     * The 1000-step training table of a flow model with a static shift (SD3.5: 3).
     *
     * @param shift the shift (1 for none)
     */
    record FlowTable(double shift) implements GridSpec {
        @Override
        public SigmaGrid grid() {
            return SigmaGrid.trainingTable(Shift.fixed(shift), 0);
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "flow-table");
            m.put("shift", shift);
            return m;
        }
    }

    /**
     * The linear grid {@code t / steps} (FLUX: 1000).
     *
     * @param steps intervals
     */
    record Linear(int steps) implements GridSpec {
        @Override
        public SigmaGrid grid() {
            return SigmaGrid.linear(steps);
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "linear");
            m.put("steps", (long) steps);
            return m;
        }
    }

    /** The SD DDPM table in the flow convention (SDXL). */
    record Ddpm() implements GridSpec {
        @Override
        public SigmaGrid grid() {
            return SigmaGrid.ddpm(DdpmSchedule.stableDiffusion());
        }

        @Override
        public Map<String, Object> toJson() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", "ddpm");
            return m;
        }
    }

    /** @param o JSON form @return the spec */
    static GridSpec fromJson(JsonObject o) {
        String kind = o.getString("kind");
        switch (kind) {
            case "flow-table":
                return new FlowTable(o.getDouble("shift"));
            case "linear":
                return new Linear(o.getInt("steps"));
            case "ddpm":
                return new Ddpm();
            default:
                throw InvalidRequestException.of(o.pathOf("kind"), "flow-table, linear or ddpm", "\"" + kind + "\"");
        }
    }
}
