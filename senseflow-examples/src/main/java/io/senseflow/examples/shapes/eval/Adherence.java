package io.senseflow.examples.shapes.eval;

import io.senseflow.examples.shapes.ShapeAttributes;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Prompt adherence: how often the judged attributes of generated images equal those of their prompts, per attribute
 * and all five at once. Accumulates; not thread-safe.
 */
public final class Adherence {
    /** Attribute names, in the classifier's head order. */
    public static final List<String> ATTRIBUTES = List.of("color", "shape", "size", "position", "background");

    private final long[] correct = new long[ATTRIBUTES.size()];
    private long allCorrect;
    private long count;

    /**
     * Adherence from counts measured before (e.g. read back from a report).
     *
     * @param count images judged
     * @param allCorrect images with every attribute right
     * @param correct per attribute, in {@link #ATTRIBUTES} order, the images with that attribute right
     * @return the adherence
     * @throws io.senseflow.InvalidRequestException when the counts are inconsistent
     */
    public static Adherence ofCounts(long count, long allCorrect, long[] correct) {
        if (correct.length != ATTRIBUTES.size()) {
            throw io.senseflow.InvalidRequestException.of("correct", ATTRIBUTES.size() + " counts", correct.length);
        }
        Adherence a = new Adherence();
        for (int k = 0; k < correct.length; k++) {
            if (correct[k] < allCorrect || correct[k] > count) {
                throw io.senseflow.InvalidRequestException.of("correct[" + ATTRIBUTES.get(k) + "]",
                        "between " + allCorrect + " and " + count, correct[k]);
            }
            a.correct[k] = correct[k];
        }
        if (allCorrect < 0 || count < 0) {
            throw io.senseflow.InvalidRequestException.of("count/allCorrect", "non-negative", count + "/" + allCorrect);
        }
        a.allCorrect = allCorrect;
        a.count = count;
        return a;
    }

    /**
     * @param wanted the prompts' attributes
     * @param judged the judged attributes, in the same order
     */
    public void add(List<ShapeAttributes> wanted, List<ShapeAttributes> judged) {
        if (wanted.size() != judged.size()) {
            throw io.senseflow.InvalidRequestException.of("judged", wanted.size() + " attribute sets", judged.size());
        }
        for (int i = 0; i < wanted.size(); i++) {
            ShapeAttributes w = wanted.get(i);
            ShapeAttributes j = judged.get(i);
            boolean[] ok = {w.color() == j.color(), w.shape() == j.shape(), w.size() == j.size(),
                w.position() == j.position(), w.background() == j.background()};
            boolean all = true;
            for (int k = 0; k < ok.length; k++) {
                if (ok[k]) {
                    correct[k]++;
                } else {
                    all = false;
                }
            }
            if (all) {
                allCorrect++;
            }
            count++;
        }
    }

    /** @return the number of images judged */
    public long count() {
        return count;
    }

    /** @return the fraction with every attribute right (NaN when empty) */
    public double all() {
        return count == 0 ? Double.NaN : allCorrect / (double) count;
    }

    /** @param attribute one of {@link #ATTRIBUTES} @return the fraction with that attribute right (NaN when empty) */
    public double of(String attribute) {
        int k = ATTRIBUTES.indexOf(attribute);
        if (k < 0) {
            throw io.senseflow.InvalidRequestException.of("attribute", "one of " + ATTRIBUTES, attribute);
        }
        return count == 0 ? Double.NaN : correct[k] / (double) count;
    }

    /** @return {@code count}, {@code all} and one entry per attribute, JSON-ready */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", count);
        m.put("all", all());
        for (String a : ATTRIBUTES) {
            m.put(a, of(a));
        }
        return m;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(String.format(java.util.Locale.ROOT, "all %.1f %%", 100 * all()));
        for (String a : ATTRIBUTES) {
            b.append(String.format(java.util.Locale.ROOT, ", %s %.1f %%", a, 100 * of(a)));
        }
        return b.append(" (n = ").append(count).append(')').toString();
    }
}
