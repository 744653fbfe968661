package io.senseflow.bench;

import java.util.Arrays;
import java.util.Locale;

/**
 * Measured durations of one quantity: median and spread. The median is what tables quote, because on a shared machine
 * the mean is pulled by whatever else ran at the moment.
 */
public final class Samples {
    private final long[] nanos;

    private Samples(long[] nanos) {
        if (nanos.length == 0) {
            throw new IllegalArgumentException("no samples");
        }
        this.nanos = nanos.clone();
        Arrays.sort(this.nanos);
    }

    /** @param nanos durations in nanoseconds @return the samples */
    public static Samples of(long... nanos) {
        return new Samples(nanos);
    }

    /** @return how many */
    public int count() {
        return nanos.length;
    }

    /** @param q a quantile in [0, 1] @return the nearest-rank quantile in nanoseconds */
    public double quantile(double q) {
        return nanos[(int) Math.round(q * (nanos.length - 1))];
    }

    /** @return the median in nanoseconds (the mean of the two middle values for an even count) */
    public double median() {
        int n = nanos.length;
        return n % 2 == 1 ? nanos[n / 2] : (nanos[n / 2 - 1] + nanos[n / 2]) / 2.0;
    }

    /** @return the median in milliseconds */
    public double medianMs() {
        return median() / 1e6;
    }

    /** @return the mean in nanoseconds */
    public double mean() {
        double s = 0;
        for (long v : nanos) {
            s += v;
        }
        return s / nanos.length;
    }

    /** @return "median (p10–p90, n)" in milliseconds */
    public String describeMs() {
        if (nanos.length < 3) {
            return ms(median()) + " ms (n " + nanos.length + ")";
        }
        return ms(median()) + " ms (" + ms(quantile(0.1)) + "–" + ms(quantile(0.9)) + ", n " + nanos.length + ")";
    }

    /** @param nanos a duration @return milliseconds with 3 significant digits or more */
    public static String ms(double nanos) {
        double ms = nanos / 1e6;
        if (ms >= 100) {
            return String.format(Locale.ROOT, "%.0f", ms);
        }
        if (ms >= 10) {
            return String.format(Locale.ROOT, "%.1f", ms);
        }
        if (ms >= 1) {
            return String.format(Locale.ROOT, "%.2f", ms);
        }
        return String.format(Locale.ROOT, "%.3f", ms);
    }
}
