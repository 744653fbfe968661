package io.senseflow.tf.run;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationObjective;
import io.senseflow.distill.Distiller;
import io.senseflow.schedule.TimestepSampler;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The researcher's plug-ins of a {@link DistillationRun} ({@link DistillationRun.Builder#objectives},
 * {@link DistillationRun.Builder#addObjective}, {@link DistillationRun.Builder#fakeScoreTimesteps},
 * {@link DistillationRun.Builder#discriminator}, {@link DistillationRun.Builder#data}): how they reach the
 * {@link Distiller}, and how a run records them so that a resume without them (or with others) is refused.
 *
 * <p>Plug-ins are code, not config: {@code run.json} records their names (objectives' {@code name()}, a record
 * sampler's {@code toString()}, another sampler's class) under {@value #RUN_JSON_FIELD}, and only when there are any.
 *
 * <p>Not thread-safe: filled by one builder.
 */
final class ResearchPlugins {
    static final String RUN_JSON_FIELD = "plugins";

    Function<DistillationConfig, List<DistillationObjective>> objectives;
    final List<DistillationObjective> extra = new ArrayList<>();
    TimestepSampler fakeScoreTimesteps;
    DiscriminatorPlugin discriminator;
    DataPlugin data;

    /** @return the generator's terms (the function is asked again on every call), or null for the config's own */
    List<DistillationObjective> objectives(DistillationConfig cfg) {
        if (objectives == null && extra.isEmpty()) {
            return null;
        }
        List<DistillationObjective> all = new ArrayList<>(objectives != null ? objectives.apply(cfg) : cfg.objectives());
        all.addAll(extra);
        return List.copyOf(all);
    }

    void applyTo(Distiller.Builder db, DistillationConfig cfg) {
        List<DistillationObjective> terms = objectives(cfg);
        if (terms != null) {
            db.objectives(terms);
        }
        if (fakeScoreTimesteps != null) {
            db.fakeScoreTimesteps(fakeScoreTimesteps);
        }
    }

    /** @return what run.json records of the plug-ins; empty without any */
    String describe(DistillationConfig cfg) {
        List<DistillationObjective> terms = objectives(cfg);
        if (terms == null && fakeScoreTimesteps == null && discriminator == null && data == null) {
            return "";
        }
        StringBuilder sb = new StringBuilder();
        if (terms != null) {
            sb.append("objectives=");
            for (int i = 0; i < terms.size(); i++) {
                sb.append(i == 0 ? "" : ",").append(terms.get(i).name());
            }
        }
        if (fakeScoreTimesteps != null) {
            sb.append(sb.length() == 0 ? "" : ";").append("fake_score_timesteps=").append(name(fakeScoreTimesteps));
        }
        if (discriminator != null) {
            sb.append(sb.length() == 0 ? "" : ";").append("discriminator=").append(name(discriminator));
        }
        if (data != null) {
            sb.append(sb.length() == 0 ? "" : ";").append("data=").append(name(data));
        }
        return sb.toString();
    }

    /** A record's value; another class's name (a lambda's without the per-JVM suffix). */
    private static String name(Object o) {
        Class<?> c = o.getClass();
        if (c.isRecord()) {
            return o.toString();
        }
        String n = c.getName();
        int lambda = n.indexOf("$$Lambda");
        return lambda >= 0 ? n.substring(0, lambda) + " (a lambda)" : n;
    }
}
