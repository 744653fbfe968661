package io.senseflow.examples.report;

import io.senseflow.InvalidRequestException;
import io.senseflow.image.Image;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Path2D;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Line charts drawn with Java2D (headless): panels stacked vertically, each with its own y axis, ticks, grid and
 * legend. Enough for training curves; written as PNG atomically ({@link Image#writePng}).
 */
public final class LinePlot {
    private static final Color[] PALETTE = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c),
        new Color(0xff7f0e), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x17becf)};
    private static final int WIDTH = 900;
    private static final int PANEL_HEIGHT = 260;
    private static final int LEFT = 70;
    private static final int RIGHT = 170;
    private static final int TOP = 28;
    private static final int BOTTOM = 34;

    private final List<Panel> panels = new ArrayList<>();

    /**
     * One line.
     *
     * @param name legend label
     * @param x abscissae
     * @param y ordinates (non-finite values are gaps)
     */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            if (x.length != y.length) {
                throw InvalidRequestException.of("series " + name, "as many x as y values", x.length + " vs " + y.length);
            }
            x = x.clone();
            y = y.clone();
        }
    }

    /**
     * A panel: a titled chart with its own axes.
     *
     * @param title the title
     * @param xLabel the x axis label
     * @param yLabel the y axis label
     * @param series the lines
     */
    public record Panel(String title, String xLabel, String yLabel, List<Series> series) {
        public Panel {
            series = List.copyOf(series);
        }
    }

    /** @param panel a panel, drawn below the previous ones @return this */
    public LinePlot add(Panel panel) {
        panels.add(panel);
        return this;
    }

    /**
     * @param values a series' values
     * @param window the moving-average window (1: unchanged); non-finite values are skipped
     * @return the trailing moving average
     */
    public static double[] smooth(double[] values, int window) {
        double[] out = new double[values.length];
        double sum = 0;
        int count = 0;
        for (int i = 0; i < values.length; i++) {
            if (Double.isFinite(values[i])) {
                sum += values[i];
                count++;
            }
            int drop = i - window;
            if (drop >= 0 && Double.isFinite(values[drop])) {
                sum -= values[drop];
                count--;
            }
            out[i] = count == 0 ? Double.NaN : sum / count;
        }
        return out;
    }

    /** @return the chart */
    public Image render() {
        if (panels.isEmpty()) {
            throw new InvalidRequestException("LinePlot: nothing to draw (no panels)");
        }
        BufferedImage img = new BufferedImage(WIDTH, PANEL_HEIGHT * panels.size(), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, img.getWidth(), img.getHeight());
            for (int i = 0; i < panels.size(); i++) {
                draw(g, panels.get(i), i * PANEL_HEIGHT);
            }
        } finally {
            g.dispose();
        }
        return Image.fromBufferedImage(img, Map.of("Software", "SenseFlow for Java"));
    }

    /** @param file the PNG to write (atomically) */
    public void writePng(Path file) {
        render().writePng(file);
    }

    private static void draw(Graphics2D g, Panel p, int y0) {
        int plotW = WIDTH - LEFT - RIGHT;
        int plotH = PANEL_HEIGHT - TOP - BOTTOM;
        int px = LEFT;
        int py = y0 + TOP;
        double xmin = Double.POSITIVE_INFINITY;
        double xmax = Double.NEGATIVE_INFINITY;
        double ymin = Double.POSITIVE_INFINITY;
        double ymax = Double.NEGATIVE_INFINITY;
        for (Series s : p.series()) {
            for (int i = 0; i < s.x().length; i++) {
                if (Double.isFinite(s.x()[i]) && Double.isFinite(s.y()[i])) {
                    xmin = Math.min(xmin, s.x()[i]);
                    xmax = Math.max(xmax, s.x()[i]);
                    ymin = Math.min(ymin, s.y()[i]);
                    ymax = Math.max(ymax, s.y()[i]);
                }
            }
        }
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        g.setColor(Color.BLACK);
        g.drawString(p.title(), px, y0 + 18);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.setColor(new Color(0x888888));
        g.drawRect(px, py, plotW, plotH);
        if (!Double.isFinite(xmin)) {
            g.drawString("no data", px + plotW / 2 - 20, py + plotH / 2);
            return;
        }
        if (xmax == xmin) {
            xmax = xmin + 1;
        }
        if (ymax == ymin) {
            double pad = Math.max(1e-9, Math.abs(ymax) * 0.05);
            ymin -= pad;
            ymax += pad;
        }
        double[] yTicks = ticks(ymin, ymax);
        ymin = Math.min(ymin, yTicks[0]);
        ymax = Math.max(ymax, yTicks[yTicks.length - 1]);
        double[] xTicks = ticks(xmin, xmax);
        FontMetrics fm = g.getFontMetrics();
        for (double t : yTicks) {
            int yy = py + plotH - (int) Math.round((t - ymin) / (ymax - ymin) * plotH);
            g.setColor(new Color(0xeeeeee));
            g.drawLine(px + 1, yy, px + plotW - 1, yy);
            g.setColor(Color.DARK_GRAY);
            String label = label(t);
            g.drawString(label, px - 6 - fm.stringWidth(label), yy + 4);
        }
        for (double t : xTicks) {
            if (t < xmin || t > xmax) {
                continue;
            }
            int xx = px + (int) Math.round((t - xmin) / (xmax - xmin) * plotW);
            g.setColor(new Color(0xeeeeee));
            g.drawLine(xx, py + 1, xx, py + plotH - 1);
            g.setColor(Color.DARK_GRAY);
            String label = label(t);
            g.drawString(label, xx - fm.stringWidth(label) / 2, py + plotH + 14);
        }
        g.drawString(p.xLabel(), px + plotW / 2 - fm.stringWidth(p.xLabel()) / 2, py + plotH + 28);
        g.drawString(p.yLabel(), 6, y0 + 18 + 14);
        g.setStroke(new BasicStroke(1.6f));
        for (int si = 0; si < p.series().size(); si++) {
            Series s = p.series().get(si);
            g.setColor(PALETTE[si % PALETTE.length]);
            Path2D.Double path = new Path2D.Double();
            boolean pen = false;
            int points = 0;
            for (int i = 0; i < s.x().length; i++) {
                if (!Double.isFinite(s.x()[i]) || !Double.isFinite(s.y()[i])) {
                    pen = false;
                    continue;
                }
                double xx = px + (s.x()[i] - xmin) / (xmax - xmin) * plotW;
                double yy = py + plotH - (s.y()[i] - ymin) / (ymax - ymin) * plotH;
                if (pen) {
                    path.lineTo(xx, yy);
                } else {
                    path.moveTo(xx, yy);
                    pen = true;
                }
                points++;
                if (s.x().length <= 40) {
                    g.fillOval((int) xx - 3, (int) yy - 3, 6, 6);
                }
            }
            if (points > 1) {
                g.draw(path);
            }
            int ly = py + 14 + si * 16;
            g.fillRect(px + plotW + 12, ly - 8, 14, 4);
            g.setColor(Color.BLACK);
            g.drawString(s.name(), px + plotW + 32, ly - 2);
        }
        g.setStroke(new BasicStroke(1f));
    }

    /** About five round tick values covering [lo, hi]. */
    static double[] ticks(double lo, double hi) {
        double span = hi - lo;
        double raw = span / 5;
        double mag = Math.pow(10, Math.floor(Math.log10(raw)));
        double step = mag;
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * mag >= raw) {
                step = m * mag;
                break;
            }
        }
        double first = Math.floor(lo / step) * step;
        List<Double> out = new ArrayList<>();
        for (double t = first; t <= hi + step * 0.999; t += step) {
            out.add(Math.abs(t) < step * 1e-9 ? 0 : t);
        }
        return out.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static String label(double v) {
        double a = Math.abs(v);
        if (a != 0 && (a < 1e-3 || a >= 1e6)) {
            return String.format(Locale.ROOT, "%.1e", v);
        }
        if (a >= 100 || v == Math.rint(v)) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        return String.format(Locale.ROOT, "%.3g", v);
    }
}
