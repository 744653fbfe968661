package io.senseflow.tf.importer;

import io.senseflow.tf.graph.GraphOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.tensorflow.Output;
import org.tensorflow.proto.DataType;

/**
 * ONNX Einsum, lowered to ops that all have gradients: per operand a ReduceSum over labels used nowhere else and a
 * transpose, then pairwise contraction left to right as one batched MatMul over {@code [batch, kept, contracted]}
 * reshapes, and a final transpose to the output order. Covers what PyTorch exports for diffusers models
 * (transposes such as SD3's unpatchify {@code nhwpqc->nchpwq}, outer products such as FLUX's RoPE {@code i,j->ij},
 * batched matrix products, reductions), implicit outputs and ellipses (with known ranks), and size-1 broadcasting
 * of a label against a larger size. Refused, naming the equation: a label repeated within one operand (a diagonal
 * or trace), an output label no operand has, a repeated output label, characters that are not letters.
 */
final class EinsumHandler {
    private static final char ELLIPSIS_BASE = '\u0100';

    private EinsumHandler() {
    }

    /** An operand during lowering: its value, one label per axis, and the static size per axis (-1 unknown). */
    private record Term(Output<?> x, List<Character> labels, long[] dims) {
        long size(char label) {
            int i = labels.indexOf(label);
            return i < 0 ? -1 : dims[i];
        }
    }

    static Value[] einsum(NodeContext c) {
        c.float32Fallback(java.util.stream.IntStream.range(0, c.inputCount()).toArray()); // no bfloat16 path here
        String raw = c.attrString("equation", null);
        if (raw == null) {
            throw c.fail("the attribute 'equation' is required");
        }
        String eq = raw.replace(" ", "");
        String lhs;
        String rhs;
        int arrow = eq.indexOf("->");
        if (arrow >= 0) {
            lhs = eq.substring(0, arrow);
            rhs = eq.substring(arrow + 2);
        } else {
            lhs = eq;
            rhs = null;
        }
        String[] specs = lhs.split(",", -1);
        if (specs.length != c.inputCount()) {
            throw refuse(c, raw, "it names " + specs.length + " operands but the node has " + c.inputCount()
                    + " inputs", "give the node one input per comma-separated operand");
        }
        // ellipsis: right-aligned synthetic labels, as many as the largest ellipsis rank
        int[] ellipsisRank = new int[specs.length];
        int maxEllipsis = 0;
        for (int i = 0; i < specs.length; i++) {
            String s = specs[i];
            if (s.contains("...")) {
                long[] shape = c.shape(i);
                if (shape == null) {
                    throw refuse(c, raw, "operand " + i + " uses '...' but its rank is unknown",
                            "specialise the graph's input shapes (ImportOptions.inputShape)");
                }
                ellipsisRank[i] = shape.length - (s.length() - 3);
                if (ellipsisRank[i] < 0) {
                    throw refuse(c, raw, "operand " + i + " ('" + s + "') has more labels than its rank " + shape.length,
                            "write one label per axis");
                }
                maxEllipsis = Math.max(maxEllipsis, ellipsisRank[i]);
            }
        }
        List<Term> terms = new ArrayList<>();
        for (int i = 0; i < specs.length; i++) {
            List<Character> labels = labels(c, raw, specs[i], ellipsisRank[i], maxEllipsis, "operand " + i);
            Set<Character> seen = new LinkedHashSet<>();
            for (char l : labels) {
                if (!seen.add(l)) {
                    throw refuse(c, raw, "label '" + l + "' appears twice in operand " + i + " ('" + specs[i]
                            + "'), i.e. a diagonal or trace, which transposes, reshapes, MatMul and ReduceSum cannot"
                            + " express", "export the model with torch.diagonal (or an explicit mask and ReduceSum)"
                            + " instead of a repeated einsum label");
                }
            }
            long[] shape = c.shape(i);
            if (shape == null) {
                throw refuse(c, raw, "the rank of operand " + i + " is unknown",
                        "specialise the graph's input shapes (ImportOptions.inputShape)");
            }
            if (shape.length != labels.size()) {
                throw refuse(c, raw, "operand " + i + " ('" + specs[i] + "') has " + labels.size()
                        + " labels but rank " + shape.length, "write one label per axis");
            }
            terms.add(new Term(c.in(i), labels, shape));
        }
        List<Character> out;
        if (rhs != null) {
            out = labels(c, raw, rhs, maxEllipsis, maxEllipsis, "the output");
            Set<Character> seen = new LinkedHashSet<>();
            for (char l : out) {
                if (!seen.add(l)) {
                    throw refuse(c, raw, "output label '" + l + "' is repeated", "name each output axis once");
                }
                if (terms.stream().noneMatch(t -> t.labels().contains(l))) {
                    throw refuse(c, raw, "output label '" + l + "' appears in no operand",
                            "use only labels of the operands in the output");
                }
            }
        } else {
            // implicit output: ellipsis labels, then the labels used exactly once, in alphabetical order
            out = new ArrayList<>();
            for (int k = 0; k < maxEllipsis; k++) {
                out.add((char) (ELLIPSIS_BASE + k));
            }
            TreeSet<Character> once = new TreeSet<>();
            for (char l : terms.stream().flatMap(t -> t.labels().stream()).distinct().toList()) {
                long count = terms.stream().flatMap(t -> t.labels().stream()).filter(x -> x == l).count();
                if (count == 1 && l < ELLIPSIS_BASE) {
                    once.add(l);
                }
            }
            out.addAll(once);
        }
        GraphOps o = c.ops();
        // a label of size 1 in one operand but larger in another broadcasts: sum it out (a squeeze) where it is 1
        for (int i = 0; i < terms.size(); i++) {
            Term t = terms.get(i);
            List<Character> ones = new ArrayList<>();
            for (int a = 0; a < t.labels().size(); a++) {
                char l = t.labels().get(a);
                if (t.dims()[a] == 1) {
                    for (Term u : terms) {
                        if (u != t && u.size(l) > 1) {
                            ones.add(l);
                            break;
                        }
                    }
                }
            }
            if (!ones.isEmpty()) {
                terms.set(i, sum(o, t, ones));
            }
        }
        Term acc = terms.get(0);
        for (int i = 1; i < terms.size(); i++) {
            Set<Character> keep = new LinkedHashSet<>(out);
            for (int j = i + 1; j < terms.size(); j++) {
                keep.addAll(terms.get(j).labels());
            }
            acc = contract(o, acc, terms.get(i), keep);
        }
        List<Character> unused = new ArrayList<>();
        for (char l : acc.labels()) {
            if (!out.contains(l)) {
                unused.add(l);
            }
        }
        if (!unused.isEmpty()) {
            acc = sum(o, acc, unused);
        }
        int[] perm = new int[out.size()];
        boolean identity = true;
        for (int k = 0; k < perm.length; k++) {
            perm[k] = acc.labels().indexOf(out.get(k));
            identity &= perm[k] == k;
        }
        Output<?> y = identity ? acc.x() : o.transpose(acc.x(), perm);
        return NodeContext.one(y == c.in(0) ? o.identity(y) : y);
    }

    private static OnnxImportException refuse(NodeContext c, String equation, String why, String fix) {
        return c.fail("equation '" + equation + "' cannot be imported: " + why + "; to make it importable, " + fix
                + " (supported: any equation without a label repeated within one operand, with ellipses of known"
                + " rank; it is lowered to Transpose, Reshape, batched MatMul and ReduceSum)");
    }

    private static List<Character> labels(NodeContext c, String equation, String spec, int ellipsisRank, int maxEllipsis,
                                          String what) {
        List<Character> labels = new ArrayList<>();
        int dots = spec.indexOf("...");
        if (dots >= 0 && spec.indexOf("...", dots + 1) >= 0) {
            throw refuse(c, equation, what + " ('" + spec + "') has two ellipses", "use at most one '...' per operand");
        }
        for (int k = 0; k < spec.length(); k++) {
            if (k == dots) {
                for (int e = maxEllipsis - ellipsisRank; e < maxEllipsis; e++) {
                    labels.add((char) (ELLIPSIS_BASE + e));
                }
                k += 2;
                continue;
            }
            char ch = spec.charAt(k);
            if (!(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z')) {
                throw refuse(c, equation, what + " ('" + spec + "') contains '" + ch + "'",
                        "use letters a-z, A-Z and '...' only");
            }
            labels.add(ch);
        }
        return labels;
    }

    /** Sums the given labels out of a term. */
    private static Term sum(GraphOps o, Term t, List<Character> labels) {
        int[] axes = labels.stream().mapToInt(t.labels()::indexOf).sorted().toArray();
        List<Character> rest = new ArrayList<>();
        List<Long> dims = new ArrayList<>();
        for (int a = 0; a < t.labels().size(); a++) {
            if (Arrays.binarySearch(axes, a) < 0) {
                rest.add(t.labels().get(a));
                dims.add(t.dims()[a]);
            }
        }
        return new Term(o.reduce("Sum", t.x(), false, axes), rest, dims.stream().mapToLong(Long::longValue).toArray());
    }

    /** Contracts two terms to one whose labels are the batch labels, then a's kept labels, then b's. */
    private static Term contract(GraphOps o, Term a, Term b, Set<Character> keep) {
        List<Character> aOnlyDrop = new ArrayList<>();
        for (char l : a.labels()) {
            if (!b.labels().contains(l) && !keep.contains(l)) {
                aOnlyDrop.add(l);
            }
        }
        if (!aOnlyDrop.isEmpty()) {
            a = sum(o, a, aOnlyDrop);
        }
        List<Character> bOnlyDrop = new ArrayList<>();
        for (char l : b.labels()) {
            if (!a.labels().contains(l) && !keep.contains(l)) {
                bOnlyDrop.add(l);
            }
        }
        if (!bOnlyDrop.isEmpty()) {
            b = sum(o, b, bOnlyDrop);
        }
        List<Character> batch = new ArrayList<>();
        List<Character> contracted = new ArrayList<>();
        List<Character> aOnly = new ArrayList<>();
        List<Character> bOnly = new ArrayList<>();
        for (char l : a.labels()) {
            if (b.labels().contains(l)) {
                (keep.contains(l) ? batch : contracted).add(l);
            } else {
                aOnly.add(l);
            }
        }
        for (char l : b.labels()) {
            if (!a.labels().contains(l)) {
                bOnly.add(l);
            }
        }
        Output<?> x = arrange(o, a, batch, aOnly, contracted);
        Output<?> y = arrange(o, b, batch, contracted, bOnly);
        Output<?> z = o.binary("BatchMatMulV2", x, y);
        List<Character> labels = new ArrayList<>(batch);
        labels.addAll(aOnly);
        labels.addAll(bOnly);
        List<Output<?>> sizes = new ArrayList<>();
        long[] dims = new long[labels.size()];
        int k = 0;
        for (char l : batch) {
            long d = a.size(l) >= 0 ? a.size(l) : b.size(l);
            dims[k++] = d;
            sizes.add(a.size(l) >= 0 || b.size(l) < 0 ? size(o, a, l) : size(o, b, l));
        }
        for (char l : aOnly) {
            dims[k++] = a.size(l);
            sizes.add(size(o, a, l));
        }
        for (char l : bOnly) {
            dims[k++] = b.size(l);
            sizes.add(size(o, b, l));
        }
        return new Term(reshape(o, z, dims, sizes), labels, dims);
    }

    /** Transposes a term to the three label groups and reshapes it to {@code [prod(g0), prod(g1), prod(g2)]}. */
    private static Output<?> arrange(GraphOps o, Term t, List<Character> g0, List<Character> g1, List<Character> g2) {
        List<Character> order = new ArrayList<>(g0);
        order.addAll(g1);
        order.addAll(g2);
        int[] perm = order.stream().mapToInt(t.labels()::indexOf).toArray();
        boolean identity = true;
        for (int i = 0; i < perm.length; i++) {
            identity &= perm[i] == i;
        }
        Output<?> x = identity ? t.x() : o.transpose(t.x(), perm);
        long[] dims = new long[3];
        List<Output<?>> sizes = new ArrayList<>();
        List<List<Character>> groups = List.of(g0, g1, g2);
        for (int g = 0; g < 3; g++) {
            long p = 1;
            List<Output<?>> parts = new ArrayList<>();
            for (char l : groups.get(g)) {
                long d = t.size(l);
                p = p < 0 || d < 0 ? -1 : p * d;
                parts.add(size(o, t, l));
            }
            dims[g] = p;
            sizes.add(p >= 0 ? o.scalarLong(p) : o.reduce("Prod", o.op("Pack").inList(parts.toArray(new Output<?>[0]))
                    .attr("axis", 0L).out(), false, 0));
        }
        return reshape(o, x, dims, sizes);
    }

    private static Output<?> size(GraphOps o, Term t, char label) {
        long d = t.size(label);
        if (d >= 0) {
            return o.scalarLong(d);
        }
        int axis = t.labels().indexOf(label);
        return o.op("GatherV2").in(o.shapeOf(t.x())).in(o.scalarInt(axis)).in(o.scalarInt(0)).out();
    }

    private static Output<?> reshape(GraphOps o, Output<?> x, long[] dims, List<Output<?>> sizes) {
        if (Arrays.stream(dims).allMatch(d -> d >= 0)) {
            return o.reshape(x, dims);
        }
        Output<?> shape = sizes.isEmpty() ? o.longs() : o.op("Pack").inList(sizes.toArray(new Output<?>[0]))
                .attr("axis", 0L).out();
        return o.op("Reshape").in(x).in(o.cast(shape, DataType.DT_INT64)).out();
    }
}
