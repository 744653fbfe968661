package io.senseflow.examples.distill;

import io.senseflow.CheckpointException;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.TrackingProbe;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * A run's curves: the losses of every iteration (generator terms on generator steps only) and the periodic evaluation
 * metrics, as two tables that travel as CSV in each checkpoint ({@code extras/losses.csv}, {@code extras/eval.csv}),
 * so that a resumed run continues its curves exactly where the checkpoint left them. The {@code track.*} columns are the
 * {@link TrackingProbe}'s (does the fake score track the generator?), filled on the iterations it was measured.
 */
public final class RunHistory {
    /** Loss columns, in CSV order. */
    public static final List<String> LOSSES = List.of("dmd", "isg", "gan", "fake_score", "discriminator_real",
            "discriminator_fake", TrackingProbe.FAKE_LOSS, TrackingProbe.TEACHER_LOSS, TrackingProbe.LOSS_RATIO,
            TrackingProbe.DMD, TrackingProbe.GUIDANCE, TrackingProbe.FAKE_VS_TEACHER, TrackingProbe.GUIDANCE_COSINE,
            TrackingProbe.DMD_NORMALISED);

    private final List<Row> losses = new ArrayList<>();
    private final List<Row> evals = new ArrayList<>();

    /**
     * One row of a table.
     *
     * @param iteration the iteration
     * @param values named values (a missing key: not measured at this iteration)
     */
    public record Row(long iteration, Map<String, Double> values) {
        public Row {
            values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        }
    }

    /** @param m an iteration's metrics (its losses and total time in milliseconds are kept) */
    public synchronized void add(IterationMetrics m) {
        Map<String, Double> v = new LinkedHashMap<>();
        for (String k : LOSSES) {
            Double x = m.losses().get(k);
            if (x != null) {
                v.put(k, x);
            }
        }
        v.put("ms", m.totalNanos() / 1e6);
        losses.add(new Row(m.iteration(), v));
    }

    /** @param iteration completed iterations when the student was evaluated @param metrics its metrics */
    public synchronized void addEvaluation(long iteration, Map<String, Double> metrics) {
        evals.add(new Row(iteration, metrics));
    }

    /** @return the loss rows, in order */
    public synchronized List<Row> losses() {
        return List.copyOf(losses);
    }

    /** @return the evaluation rows, in order */
    public synchronized List<Row> evaluations() {
        return List.copyOf(evals);
    }

    /** @return the losses as CSV ({@code iteration} then {@link #LOSSES} then {@code ms}; empty cells: not measured) */
    public synchronized String lossesCsv() {
        List<String> columns = new ArrayList<>(LOSSES);
        columns.add("ms");
        return csv(columns, losses);
    }

    /** @return the evaluations as CSV ({@code iteration} then every metric seen, sorted by name) */
    public synchronized String evaluationsCsv() {
        TreeSet<String> names = new TreeSet<>();
        evals.forEach(r -> names.addAll(r.values().keySet()));
        return csv(new ArrayList<>(names), evals);
    }

    /**
     * Restores the curves a checkpoint saved.
     *
     * @param lossesCsv {@link #lossesCsv()} as saved, or null
     * @param evalCsv {@link #evaluationsCsv()} as saved, or null
     * @param upTo the checkpoint's iteration: loss rows of this iteration and later, and evaluations after it, are
     *     dropped (the resumed run produces them again)
     * @return the history
     * @throws CheckpointException if a table cannot be read
     */
    public static RunHistory restore(String lossesCsv, String evalCsv, long upTo) {
        RunHistory h = new RunHistory();
        if (lossesCsv != null) {
            parse(lossesCsv, "losses.csv", upTo, h.losses);
        }
        if (evalCsv != null) {
            parse(evalCsv, "eval.csv", upTo + 1, h.evals);
        }
        return h;
    }

    /**
     * Reads a front-door run's long {@code losses.csv} ({@code iteration,term,value}, one line per term of an
     * iteration, as {@code DistillationRun} writes it) into loss rows, every term kept under its name (the research
     * plug-ins' terms too); no evaluations, no {@code ms}.
     *
     * @param lines the file's lines, header first
     * @param name the file, for messages
     * @return the history
     * @throws io.senseflow.InvalidRequestException if a line is not {@code iteration,term,value}
     */
    public static RunHistory fromLongLosses(List<String> lines, String name) {
        RunHistory h = new RunHistory();
        java.util.TreeMap<Long, Map<String, Double>> rows = new java.util.TreeMap<>();
        for (int i = 1; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split(",", -1);
            if (f.length != 3) {
                throw badLongLine(name, i, line);
            }
            try {
                rows.computeIfAbsent(Long.parseLong(f[0]), k -> new LinkedHashMap<>()).put(f[1],
                        Double.parseDouble(f[2]));
            } catch (NumberFormatException e) {
                throw badLongLine(name, i, line);
            }
        }
        rows.forEach((it, v) -> h.losses.add(new Row(it, v)));
        return h;
    }

    private static io.senseflow.InvalidRequestException badLongLine(String name, int index, String line) {
        return io.senseflow.InvalidRequestException.of(name + " line " + (index + 1), "iteration,term,value", line);
    }

    /** @param bytes file content @return it as UTF-8 text, or null for null */
    static String text(byte[] bytes) {
        return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }

    private static String csv(List<String> columns, List<Row> rows) {
        StringBuilder sb = new StringBuilder("iteration");
        for (String c : columns) {
            sb.append(',').append(c);
        }
        sb.append('\n');
        for (Row r : rows) {
            sb.append(r.iteration());
            for (String c : columns) {
                Double v = r.values().get(c);
                sb.append(',');
                if (v != null) {
                    // shortest representation that reads back to the same double
                    sb.append(Double.toString(v));
                }
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    private static void parse(String csv, String name, long upTo, List<Row> into) {
        String[] lines = csv.split("\n");
        if (lines.length == 0 || !lines[0].startsWith("iteration")) {
            throw new CheckpointException(name + ": expected a header starting with 'iteration', got '"
                    + (lines.length == 0 ? "" : lines[0]) + "'");
        }
        String[] header = lines[0].split(",", -1);
        for (int i = 1; i < lines.length; i++) {
            if (lines[i].isBlank()) {
                continue;
            }
            String[] cells = lines[i].split(",", -1);
            if (cells.length != header.length) {
                throw new CheckpointException(String.format(Locale.ROOT, "%s line %d: expected %d cells, got %d", name,
                        i + 1, header.length, cells.length));
            }
            try {
                long it = Long.parseLong(cells[0]);
                if (it >= upTo) {
                    continue;
                }
                Map<String, Double> v = new LinkedHashMap<>();
                for (int c = 1; c < cells.length; c++) {
                    if (!cells[c].isEmpty()) {
                        v.put(header[c], Double.parseDouble(cells[c]));
                    }
                }
                into.add(new Row(it, v));
            } catch (NumberFormatException e) {
                throw new CheckpointException(String.format(Locale.ROOT, "%s line %d: expected numbers, got '%s'", name,
                        i + 1, lines[i]), e);
            }
        }
    }
}
