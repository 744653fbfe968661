package io.senseflow.examples.shapes.eval;

import java.util.Locale;
import java.util.Map;

/** The markdown form of an evaluation: adherence tables (seen, held-out) and the Fréchet distances. */
public final class MetricsReport {
    private MetricsReport() {
    }

    /**
     * @param name what was evaluated
     * @param r the report
     * @param settings the settings that produced it (steps, guidance, seed, ...), listed under the tables
     * @return markdown
     */
    public static String markdown(String name, ShapesEvaluation.Report r, Map<String, Object> settings) {
        StringBuilder b = new StringBuilder();
        b.append("# Shapes evaluation: ").append(name).append("\n\n");
        b.append("| prompts | images | all attributes |");
        for (String a : Adherence.ATTRIBUTES) {
            b.append(' ').append(a).append(" |");
        }
        b.append("\n| --- | --- | --- |").append(" --- |".repeat(Adherence.ATTRIBUTES.size())).append('\n');
        row(b, "seen", r.seen());
        if (r.heldOut().count() > 0) {
            row(b, "held-out", r.heldOut());
        }
        b.append('\n');
        b.append(String.format(Locale.ROOT, "| FD-data | real-vs-real floor | FD-T | images |%n| --- | --- | --- | --- |%n"
                        + "| %.3f | %.3f | %s | %d |%n%n", r.fdData(), r.fdFloor(),
                Double.isNaN(r.fdTeacher()) ? "—" : String.format(Locale.ROOT, "%.3f", r.fdTeacher()),
                r.seenSamples().prompts().size()));
        b.append(String.format(Locale.ROOT, "Wall time per image: %.2f ms (seen prompts, generation only).%n%n",
                1000 * r.seenSamples().secondsPerImage()));
        b.append("Settings:\n\n");
        settings.forEach((k, v) -> {
            if (!(v instanceof Map)) {
                b.append("- ").append(k).append(": ").append(v).append('\n');
            }
        });
        return b.toString();
    }

    private static void row(StringBuilder b, String label, Adherence a) {
        b.append("| ").append(label).append(" | ").append(a.count()).append(" | ").append(pct(a.all())).append(" |");
        for (String k : Adherence.ATTRIBUTES) {
            b.append(' ').append(pct(a.of(k))).append(" |");
        }
        b.append('\n');
    }

    private static String pct(double v) {
        return String.format(Locale.ROOT, "%.1f %%", 100 * v);
    }
}
