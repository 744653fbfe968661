package io.senseflow.examples.report;

import java.util.Locale;

/** Markdown tables of a {@link ModelComparison}: one row per sampler, with the real-vs-real floor beside FD. */
public final class ComparisonReport {
    private ComparisonReport() {
    }

    /**
     * @param r the comparison
     * @return a markdown table (sampler, steps, NFE, FD-data, FD-T, adherence seen / held-out, shape accuracy, time)
     */
    public static String table(ModelComparison.Result r) {
        StringBuilder b = new StringBuilder();
        b.append("| sampler | steps | NFE | FD-data | FD-T | adherence, seen (all 5) | adherence, held-out (all 5) |"
                + " shape, seen | ms / image |\n");
        b.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (ModelComparison.Row row : r.rows()) {
            b.append(String.format(Locale.ROOT, "| %s | %d | %d | %.3f | %s | %s | %s | %s | %.2f |%n",
                    row.cached() ? row.name() + " †" : row.name(),
                    row.steps(), row.nfe(), row.fdData(), Double.isNaN(row.fdTeacher()) ? "—"
                            : String.format(Locale.ROOT, "%.3f", row.fdTeacher()), pct(row.seen().all()),
                    row.heldOut().count() == 0 ? "—" : pct(row.heldOut().all()), pct(row.seen().of("shape")),
                    1000 * row.secondsPerImage()));
        }
        b.append(String.format(Locale.ROOT, "%nReal-vs-real FD floor at %d images: **%.3f**. FD-data: against real renders"
                + " of the same prompts; FD-T: against the first row's images for the same prompts and noise (for the"
                + " first row, when measured: against its own images with other noise). %d seen and %d held-out prompts, seed %d.%n",
                r.seenCount(), r.floor(), r.seenCount(), r.heldOutCount(), r.seed()));
        if (r.rows().stream().anyMatch(ModelComparison.Row::cached)) {
            b.append(String.format(Locale.ROOT, "%n† measured earlier with the same model files, judge, prompts, noise and"
                    + " sample counts (sampling is deterministic, so the row is what this run would measure); its time"
                    + " per image is that run's, on the machine that measured it.%n"));
        }
        return b.toString();
    }

    static String pct(double v) {
        return Double.isNaN(v) ? "—" : String.format(Locale.ROOT, "%.1f %%", 100 * v);
    }
}
