package io.senseflow.examples.distill;

import io.senseflow.distill.TrackingProbe;
import io.senseflow.examples.report.LinePlot;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * The training-curve chart of a run: generator terms (the recipe's, then any plug-in term by name), fake-score and
 * discriminator losses, the fake-score tracking probe (when measured), evaluation metrics.
 */
public final class Curves {
    private static final int SMOOTHING = 50;
    private static final List<String> RECIPE_TERMS = List.of("dmd", "isg", "gan");
    private static final Set<String> NOT_GENERATOR = Set.of("fake_score", "discriminator_real", "discriminator_fake",
            "ms");

    private Curves() {
    }

    /**
     * @param h a run's history
     * @return the chart as a PNG file's bytes
     */
    public static byte[] png(RunHistory h) {
        return plot(h).render().toPng();
    }

    static LinePlot plot(RunHistory h) {
        List<RunHistory.Row> rows = h.losses();
        List<String> generator = new ArrayList<>(RECIPE_TERMS);
        TreeSet<String> others = new TreeSet<>();
        rows.forEach(r -> r.values().keySet().stream().filter(k -> !RECIPE_TERMS.contains(k)
                && !NOT_GENERATOR.contains(k) && !k.startsWith("track.")).forEach(others::add));
        generator.addAll(others);
        LinePlot plot = new LinePlot();
        plot.add(new LinePlot.Panel("Generator terms (moving average over " + SMOOTHING + " generator steps)",
                "iteration", "loss", series(rows, generator, true)));
        plot.add(new LinePlot.Panel("Fake score and discriminator (moving average over " + SMOOTHING + " iterations)",
                "iteration", "loss", series(rows, List.of("fake_score", "discriminator_real", "discriminator_fake"), true)));
        List<LinePlot.Series> tracking = series(rows, List.of(TrackingProbe.FAKE_LOSS, TrackingProbe.TEACHER_LOSS), false);
        if (!tracking.isEmpty()) {
            plot.add(new LinePlot.Panel("Does F track G? Flow-matching loss on the probe batch of G's samples", "iteration",
                    "loss", tracking));
            plot.add(new LinePlot.Panel("DMD direction on the probe: |x0_fake - x0_real| = guidance part + the rest",
                    "iteration", "mean |difference|", series(rows, List.of(TrackingProbe.DMD, TrackingProbe.GUIDANCE,
                    TrackingProbe.FAKE_VS_TEACHER), false)));
        }
        List<RunHistory.Row> evals = h.evaluations();
        if (!evals.isEmpty()) {
            TreeSet<String> names = new TreeSet<>();
            evals.forEach(r -> names.addAll(r.values().keySet()));
            List<String> fd = names.stream().filter(n -> n.startsWith("fd")).toList();
            List<String> other = names.stream().filter(n -> !n.startsWith("fd")).toList();
            if (!fd.isEmpty()) {
                plot.add(new LinePlot.Panel("Frechet distances of the student (4 steps)", "iteration", "FD",
                        series(evals, fd, false)));
            }
            if (!other.isEmpty()) {
                plot.add(new LinePlot.Panel("Other evaluation metrics of the student", "iteration", "value",
                        series(evals, other, false)));
            }
        }
        return plot;
    }

    /** One series per column that has values; generator terms exist only on generator steps, so rows are filtered. */
    private static List<LinePlot.Series> series(List<RunHistory.Row> rows, List<String> columns, boolean smooth) {
        List<LinePlot.Series> out = new ArrayList<>();
        for (String c : columns) {
            List<RunHistory.Row> having = rows.stream().filter(r -> r.values().containsKey(c)).toList();
            if (having.isEmpty()) {
                continue;
            }
            double[] x = new double[having.size()];
            double[] y = new double[having.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = having.get(i).iteration();
                y[i] = having.get(i).values().get(c);
            }
            out.add(new LinePlot.Series(c, x, smooth ? LinePlot.smooth(y, SMOOTHING) : y));
        }
        return out;
    }
}
