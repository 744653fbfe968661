package io.senseflow.onnx.folders;

import io.senseflow.InvalidRequestException;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.FlowMatchEulerScheduler;
import io.senseflow.schedule.SamplingMode;
import io.senseflow.schedule.Scheduler;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The scheduler of a model in the SDK's own layout, as stored under {@code "scheduler"} in its
 * {@code model_index.json}: a few-step SenseFlow sampler on fixed anchors (a distilled student), or the many-step
 * flow-matching Euler sampler with a static shift (a teacher).
 *
 * <pre>{@code
 * {"type": "few_step", "anchors": [1.0, 0.9, 0.75, 0.5], "mode": "stochastic"}
 * {"type": "flow_match_euler", "shift": 3.0, "spacing": "training_range", "mode": "euler"}
 * }</pre>
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param type {@code few_step} or {@code flow_match_euler}
 * @param anchors the anchors of {@code few_step} (empty otherwise)
 * @param shift the static shift of {@code flow_match_euler} (1 for none)
 * @param spacing the spacing of {@code flow_match_euler}
 * @param mode stochastic or Euler steps
 */
public record SchedulerSpec(String type, double[] anchors, double shift, FlowMatchEulerScheduler.Spacing spacing,
                            SamplingMode mode) {
    static final String FEW_STEP = "few_step";
    static final String FLOW_MATCH_EULER = "flow_match_euler";

    public SchedulerSpec {
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(mode, "mode");
        anchors = anchors == null ? new double[0] : anchors.clone();
        if (type.equals(FEW_STEP)) {
            FewStepScheduler.validateAnchors(anchors, "scheduler.anchors");
        } else if (type.equals(FLOW_MATCH_EULER)) {
            Objects.requireNonNull(spacing, "spacing");
            if (!(shift > 0) || Double.isInfinite(shift)) {
                throw InvalidRequestException.of("scheduler.shift", "a positive finite factor", shift);
            }
        } else {
            throw InvalidRequestException.of("scheduler.type", FEW_STEP + " or " + FLOW_MATCH_EULER, type);
        }
    }

    /** @param anchors strictly decreasing levels in (0, 1] @return the stochastic few-step sampler on them */
    public static SchedulerSpec fewStep(double... anchors) {
        return new SchedulerSpec(FEW_STEP, anchors, 1, null, SamplingMode.STOCHASTIC);
    }

    /** @param shift the static shift (1 for none) @return the flow-matching Euler sampler, SD3 spacing */
    public static SchedulerSpec flowMatchEuler(double shift) {
        return new SchedulerSpec(FLOW_MATCH_EULER, new double[0], shift, FlowMatchEulerScheduler.Spacing.TRAINING_RANGE,
                SamplingMode.EULER);
    }

    /** @param newMode stochastic or Euler @return a copy with that mode */
    public SchedulerSpec withMode(SamplingMode newMode) {
        return new SchedulerSpec(type, anchors, shift, spacing, newMode);
    }

    @Override
    public double[] anchors() {
        return anchors.clone();
    }

    /** @return whether this is a distilled student's few-step sampler */
    public boolean isFewStep() {
        return type.equals(FEW_STEP);
    }

    /** @return the scheduler */
    public Scheduler toScheduler() {
        if (isFewStep()) {
            return new FewStepScheduler(anchors, mode);
        }
        return new FlowMatchEulerScheduler(io.senseflow.schedule.Shift.fixed(shift), spacing, mode);
    }

    /** @return the JSON form */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        if (isFewStep()) {
            List<Object> a = new ArrayList<>();
            for (double v : anchors) {
                a.add(v);
            }
            m.put("anchors", a);
        } else {
            m.put("shift", shift);
            m.put("spacing", spacing.name().toLowerCase(Locale.ROOT));
        }
        m.put("mode", mode.name().toLowerCase(Locale.ROOT));
        return m;
    }

    /**
     * @param o the {@code "scheduler"} object
     * @return the spec
     * @throws JsonException or {@link InvalidRequestException} naming the field
     */
    public static SchedulerSpec fromJson(JsonObject o) {
        String type = o.getString("type");
        if (!type.equals(FEW_STEP) && !type.equals(FLOW_MATCH_EULER)) {
            throw InvalidRequestException.of(o.pathOf("type"), FEW_STEP + " or " + FLOW_MATCH_EULER, type);
        }
        SamplingMode mode = enumOf(SamplingMode.class, o.getString("mode", type.equals(FEW_STEP) ? "stochastic" : "euler"),
                o.pathOf("mode"));
        if (type.equals(FEW_STEP)) {
            o.requireOnly(java.util.Set.of("type", "anchors", "mode"));
            return new SchedulerSpec(type, o.getDoubleArray("anchors"), 1, null, mode);
        }
        o.requireOnly(java.util.Set.of("type", "shift", "spacing", "mode"));
        return new SchedulerSpec(type, new double[0], o.getDouble("shift", 1.0),
                enumOf(FlowMatchEulerScheduler.Spacing.class, o.getString("spacing", "training_range"), o.pathOf("spacing")),
                mode);
    }

    private static <E extends Enum<E>> E enumOf(Class<E> type, String value, String path) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(value)) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(e.name().toLowerCase(Locale.ROOT));
        }
        throw InvalidRequestException.of(path, "one of " + names, value);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SchedulerSpec s && type.equals(s.type) && java.util.Arrays.equals(anchors, s.anchors)
                && Double.compare(shift, s.shift) == 0 && spacing == s.spacing && mode == s.mode;
    }

    @Override
    public int hashCode() {
        return Objects.hash(type, java.util.Arrays.hashCode(anchors), shift, spacing, mode);
    }

    @Override
    public String toString() {
        return toJson().toString();
    }
}
