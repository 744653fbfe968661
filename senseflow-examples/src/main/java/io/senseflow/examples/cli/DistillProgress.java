package io.senseflow.examples.cli;

import io.senseflow.distill.DistillationListener;
import io.senseflow.distill.IterationMetrics;
import java.io.PrintWriter;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A one-line progress bar for a training run, redrawn in place at most a few times a second:
 * {@code distill [######......] 1200/3000  dmd 0.041 isg 0.061 gan 0.69 F 0.52 D 1.21  5.1 it/s  ETA 5:52}. Losses
 * are averages over the last {@value #WINDOW} iterations that measured them; the rate and ETA use the iterations run in
 * this process (the first one, which builds every graph, excluded).
 */
final class DistillProgress implements DistillationListener {
    private static final int WIDTH = 24;
    private static final int WINDOW = 50;
    private static final long REDRAW_NANOS = 250_000_000L;
    private static final Map<String, String> SHORT = shortNames();

    private final PrintWriter out;
    private final String label;
    private final long total;
    private final Map<String, Deque<Double>> recent = new LinkedHashMap<>();
    private long firstIteration = -1;
    private long startNanos;
    private long lastDraw;

    /**
     * @param out where to draw
     * @param label the prefix
     * @param total the run's last iteration + 1
     */
    DistillProgress(PrintWriter out, String label, long total) {
        this.out = out;
        this.label = label;
        this.total = total;
    }

    private static Map<String, String> shortNames() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("dmd", "dmd");
        m.put("isg", "isg");
        m.put("gan", "gan");
        m.put("fake_score", "F");
        m.put("discriminator", "D");
        return m;
    }

    @Override
    public void onIteration(IterationMetrics m) {
        long now = System.nanoTime();
        if (firstIteration < 0) {
            firstIteration = m.iteration() + 1;
            startNanos = now;
        }
        Map<String, Double> losses = new LinkedHashMap<>(m.losses());
        losses.keySet().removeIf(k -> k.startsWith(io.senseflow.distill.TrackingProbe.PREFIX));   // in losses.csv
        Double real = losses.remove("discriminator_real");
        Double fake = losses.remove("discriminator_fake");
        if (real != null && fake != null) {
            losses.put("discriminator", real + fake);   // D's loss: its real + fake hinge terms
        }
        losses.forEach((k, v) -> {
            Deque<Double> d = recent.computeIfAbsent(k, x -> new ArrayDeque<>());
            d.addLast(v);
            while (d.size() > WINDOW) {
                d.removeFirst();
            }
        });
        boolean last = m.iteration() + 1 >= total;
        if (last || now - lastDraw >= REDRAW_NANOS) {
            lastDraw = now;
            out.print("\r" + line(m.iteration() + 1, now));
            if (last) {
                out.println();
            }
            out.flush();
        }
    }

    /** Ends the line (after an interruption, say). */
    void finish() {
        out.println();
        out.flush();
    }

    String line(long done, long now) {
        int filled = total == 0 ? WIDTH : (int) Math.min(WIDTH, Math.round(WIDTH * done / (double) total));
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%s [%s%s] %d/%d ", label, "#".repeat(filled),
                ".".repeat(WIDTH - filled), done, total));
        for (Map.Entry<String, String> e : SHORT.entrySet()) {
            Deque<Double> d = recent.get(e.getKey());
            if (d != null && !d.isEmpty()) {
                double mean = d.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
                sb.append(String.format(Locale.ROOT, " %s %.3g", e.getValue(), mean));
            }
        }
        long measured = done - firstIteration;
        double seconds = (now - startNanos) / 1e9;
        if (measured > 0 && seconds > 0) {
            double rate = measured / seconds;
            sb.append(String.format(Locale.ROOT, "  %.2f it/s  ETA %s", rate, clock((total - done) / rate)));
        }
        return sb.toString();
    }

    /** @param seconds a duration @return {@code m:ss} or {@code h:mm:ss} */
    static String clock(double seconds) {
        long s = Math.max(0, Math.round(seconds));
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
