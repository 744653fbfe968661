package io.senseflow.examples.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A training progress line on stderr: {@code label [#####.....] step/total  loss  s/it  ETA}, redrawn in place at most
 * every half second (every {@code logEvery} steps a line is kept, so a log file shows the curve).
 */
final class TrainingProgress {
    private static final int WIDTH = 24;
    private final PrintWriter out;
    private final String label;
    private final long total;
    private final long logEvery;
    private final boolean quiet;
    private final long start = System.nanoTime();
    private long lastDraw;
    private double smoothed = Double.NaN;

    TrainingProgress(PrintWriter out, String label, long total, long logEvery, boolean quiet) {
        this.out = out;
        this.label = label;
        this.total = total;
        this.logEvery = Math.max(1, logEvery);
        this.quiet = quiet;
    }

    /** @param step the finished step (1-based) @param loss its loss @param extra more to print, or "" */
    void onStep(long step, double loss, String extra) {
        smoothed = Double.isNaN(smoothed) ? loss : 0.98 * smoothed + 0.02 * loss;
        long now = System.nanoTime();
        boolean keep = step % logEvery == 0 || step == total;
        if (quiet && !keep) {
            return;
        }
        if (!keep && now - lastDraw < 500_000_000L) {
            return;
        }
        lastDraw = now;
        double elapsed = (now - start) / 1e9;
        double perStep = elapsed / step;
        double eta = perStep * (total - step);
        int filled = (int) Math.round(WIDTH * step / (double) total);
        String line = String.format(Locale.ROOT, "%s [%s%s] %d/%d loss %.5f (avg %.5f) %.3f s/it ETA %s%s", label,
                "#".repeat(filled), ".".repeat(WIDTH - filled), step, total, loss, smoothed, perStep, duration(eta),
                extra.isEmpty() ? "" : " " + extra);
        out.print(quiet ? line + "\n" : "\r" + line + (keep ? "\n" : ""));
        out.flush();
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60)
                : String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
}
