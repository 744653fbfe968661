package io.senseflow.examples.cli;

import io.senseflow.pipeline.ProgressListener;
import java.io.PrintWriter;
import java.util.Locale;

/** A one-line progress bar for sampling steps: {@code [#####.....] 2/4 steps  3.1 it/s}, redrawn in place. */
final class ProgressBar implements ProgressListener {
    private static final int WIDTH = 30;
    private final PrintWriter out;
    private final String label;

    ProgressBar(PrintWriter out, String label) {
        this.out = out;
        this.label = label;
    }

    @Override
    public void onStep(Step step) {
        out.print("\r" + line(step.step(), step.totalSteps(), step.elapsedNanos()));
        if (step.step() == step.totalSteps()) {
            out.println();
        }
        out.flush();
    }

    String line(int done, int total, long elapsedNanos) {
        int filled = total == 0 ? WIDTH : (int) Math.round(WIDTH * done / (double) total);
        double seconds = elapsedNanos / 1e9;
        double rate = seconds > 0 ? done / seconds : 0;
        return String.format(Locale.ROOT, "%s [%s%s] %d/%d steps %6.2f it/s", label, "#".repeat(filled),
                ".".repeat(WIDTH - filled), done, total, rate);
    }
}
