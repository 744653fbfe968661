package io.senseflow.tf.importer;

import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.tensorflow.proto.DataType;

/**
 * Shape arithmetic over values of which only some elements are known at import, e.g. {@code Shape(input_ids) =
 * [?, 77]} with a symbolic batch. A node of the index-moving and integer-arithmetic kind (Gather, Slice, Concat,
 * Unsqueeze, Cast, Add, Mul, ...) whose inputs are constants or such partial values is evaluated twice at import,
 * with two different stand-ins for the unknown elements; an output element that is equal in both runs does not
 * depend on them and is known. A fully known output becomes a constant (so {@code Slice ends = Shape(x)[1]} folds
 * although the batch stays symbolic); otherwise the node is imported as usual and its known elements are kept for
 * its consumers. Only ops whose elements are copies or integer polynomials of their inputs are evaluated this way,
 * so equality in both runs means independence (a comparison such as {@code Equal(batch, 1)} is never folded), and
 * only where the partial value is data: a stand-in used as a Slice bound, an index or an axis could be clamped into
 * a plausible result, so such nodes are imported as ops.
 */
final class PartialFold {
    private static final Set<String> OPS = Set.of("Gather", "Slice", "Concat", "Unsqueeze", "Squeeze", "Identity",
            "Cast", "Reshape", "Add", "Sub", "Mul", "Neg", "Abs");
    /** Ops whose every input is data (element-wise or concatenated); for the others only input 0 is. */
    private static final Set<String> ELEMENTWISE = Set.of("Concat", "Add", "Sub", "Mul");
    private static final int MAX_ELEMENTS = 64;

    /** The known elements of one output: values and mask, or a constant when all are known. */
    record Known(TensorValue constant, long[] values, boolean[] mask) {
    }

    private PartialFold() {
    }

    static boolean applies(OnnxNode n, List<Value> ins) {
        if (!OPS.contains(n.opType())) {
            return false;
        }
        boolean anyPartial = false;
        boolean elementwise = ELEMENTWISE.contains(n.opType());
        for (int k = 0; k < ins.size(); k++) {
            Value v = ins.get(k);
            if (v == null) {
                continue;
            }
            if (v.isPartial()) {
                if (k > 0 && !elementwise) {
                    // a stand-in as an index, a bound or an axis could be clamped or rejected: only data is evaluated
                    return false;
                }
                long[] s = v.shape();
                if (s == null || Arrays.stream(s).anyMatch(d -> d < 0) || ShapeHandlers.product(s) > MAX_ELEMENTS) {
                    return false;
                }
                anyPartial = true;
            } else if (!v.isConstant()) {
                return false;
            }
        }
        return anyPartial;
    }

    /** @return per output what is known, or null when the node cannot be evaluated with stand-ins */
    static Known[] evaluate(OpHandler h, OnnxNode n, long opset, List<Value> ins, ConstantFolder folder) {
        Value[] a;
        Value[] b;
        try {
            // stand-ins distinct per input and element, with different spacings in the two runs, so neither a copy
            // nor a sum, difference or product of unknowns can come out equal in both (x - y for the symbolic
            // batches of two different tensors stays unknown)
            a = folder.fold(h, n, opset, substitute(ins, 1_000_003L, 17, 7_919));
            b = folder.fold(h, n, opset, substitute(ins, 3_000_017L, 31, 104_729));
        } catch (RuntimeException e) {
            return null; // e.g. a stand-in used as an index: import the node as ops
        }
        if (a == null || b == null || a.length != b.length) {
            return null;
        }
        Known[] out = new Known[a.length];
        for (int k = 0; k < a.length; k++) {
            if (a[k] == null || b[k] == null) {
                continue;
            }
            TensorValue x = a[k].constant();
            TensorValue y = b[k].constant();
            if (!Arrays.equals(x.dims(), y.dims())) {
                continue;
            }
            if (x.bytes().equals(y.bytes())) {
                out[k] = new Known(x, null, null);
                continue;
            }
            if (!x.dataType().isIntegral() || x.elementCount() > MAX_ELEMENTS) {
                continue;
            }
            long[] xv = x.toLongs();
            long[] yv = y.toLongs();
            boolean[] mask = new boolean[xv.length];
            for (int i = 0; i < xv.length; i++) {
                mask[i] = xv[i] == yv[i];
            }
            // kept even when nothing is known: a symbolic size concatenated with known ones is still a partial shape
            out[k] = new Known(null, xv, mask);
        }
        return out;
    }

    /** @return the outputs as constants when every one is fully known, else null */
    static Value[] ifAllKnown(Known[] known) {
        if (known == null || known.length == 0) {
            return null;
        }
        Value[] out = new Value[known.length];
        for (int k = 0; k < known.length; k++) {
            if (known[k] == null || known[k].constant() == null) {
                return null;
            }
            out[k] = Value.constant(known[k].constant());
        }
        return out;
    }

    /** @return the imported outputs with their known elements attached */
    static Value[] attach(Value[] out, Known[] known) {
        if (known == null) {
            return out;
        }
        Value[] w = out.clone();
        for (int k = 0; k < w.length && k < known.length; k++) {
            Known kn = known[k];
            Value v = w[k];
            if (kn == null || v == null || v.isConstant() || v.output() == null) {
                continue;
            }
            if (kn.constant() != null) {
                w[k] = Value.constant(kn.constant());
            } else {
                w[k] = Value.partial(v.output(), kn.values(), kn.mask());
            }
        }
        return w;
    }

    private static List<Value> substitute(List<Value> ins, long base, long step, long perInput) {
        List<Value> s = new ArrayList<>();
        for (int k = 0; k < ins.size(); k++) {
            Value v = ins.get(k);
            if (v == null || !v.isPartial()) {
                s.add(v);
                continue;
            }
            long[] values = v.partialValues();
            boolean[] mask = v.partialKnown();
            for (int i = 0; i < values.length; i++) {
                if (!mask[i]) {
                    values[i] = base + step * i + perInput * k;
                }
            }
            long[] dims = v.shape();
            TensorValue t;
            if (v.dtype() == DataType.DT_INT64) {
                t = TensorValue.ofLongs("partial", values, dims);
            } else if (v.dtype() == DataType.DT_INT32) {
                int[] iv = new int[values.length];
                for (int i = 0; i < iv.length; i++) {
                    iv[i] = (int) values[i];
                }
                t = TensorValue.ofInts("partial", iv, dims);
            } else {
                throw new IllegalStateException("partial values are integers");
            }
            s.add(Value.constant(t));
        }
        return s;
    }
}
