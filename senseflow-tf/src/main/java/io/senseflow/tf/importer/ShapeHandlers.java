package io.senseflow.tf.importer;

import io.senseflow.onnx.ir.OnnxAttribute;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.graph.GraphOps;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.tensorflow.Output;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBool;

/**
 * Shape, indexing and data-movement operators. Where a result is fully determined by static shapes (Shape, Size)
 * it is returned as a constant, so the shape arithmetic of exported graphs folds away.
 */
final class ShapeHandlers {
    private ShapeHandlers() {
    }

    static void register(Map<String, OpHandler> t) {
        t.put("Constant", ShapeHandlers::constant);
        t.put("Shape", ShapeHandlers::shape);
        t.put("Size", ShapeHandlers::size);
        t.put("Reshape", ShapeHandlers::reshape);
        t.put("Flatten", ShapeHandlers::flatten);
        t.put("Transpose", ShapeHandlers::transpose);
        t.put("Concat", ShapeHandlers::concat);
        t.put("Split", ShapeHandlers::split);
        t.put("Slice", ShapeHandlers::slice);
        t.put("Gather", ShapeHandlers::gather);
        t.put("GatherElements", ShapeHandlers::gatherElements);
        t.put("Unsqueeze", ShapeHandlers::unsqueeze);
        t.put("Squeeze", ShapeHandlers::squeeze);
        t.put("Expand", ShapeHandlers::expand);
        t.put("ConstantOfShape", ShapeHandlers::constantOfShape);
        t.put("Range", c -> NodeContext.one(c.ops().op("Range").in(c.in(0)).in(c.in(1)).in(c.in(2)).out()));
        t.put("Tile", c -> NodeContext.one(c.ops().binary("Tile", c.in(0), c.ops().cast(c.in(1), DataType.DT_INT32))));
        t.put("Pad", ShapeHandlers::pad);
        t.put("Trilu", ShapeHandlers::trilu);
        t.put("NonZero", ShapeHandlers::nonZero);
        t.put("GatherND", ShapeHandlers::gatherNd);
        t.put("ArgMax", c -> argExtreme(c, "ArgMax"));
        t.put("ArgMin", c -> argExtreme(c, "ArgMin"));
    }

    private static String outName(NodeContext c) {
        return c.node().outputs().get(0);
    }

    private static Value[] constant(NodeContext c) {
        String name = outName(c);
        if (c.node().attributes().size() != 1) {
            throw c.fail("expected exactly one value attribute, got " + c.node().attributes());
        }
        OnnxAttribute a = c.node().attributes().get(0);
        TensorValue v = switch (a.name()) {
            case "value" -> a.tensorValue().withName(name);
            case "value_float" -> TensorValue.ofFloats(name, new float[] {a.floatValue()});
            case "value_floats" -> TensorValue.ofFloats(name, a.floats(), a.floats().length);
            case "value_int" -> TensorValue.ofLongs(name, new long[] {a.intValue()});
            case "value_ints" -> TensorValue.ofLongs(name, a.ints(), a.ints().length);
            default -> throw c.fail("attribute " + a.name() + " is not supported (sparse and string constants are not)");
        };
        return new Value[] {Value.constant(v)};
    }

    private static Value[] shape(NodeContext c) {
        long[] s = c.shape(0);
        if (s == null) {
            if (c.hasAttr("start") || c.hasAttr("end")) {
                throw c.fail("start/end need the input's rank, which is unknown; specialise the input shapes");
            }
            return NodeContext.one(c.ops().shapeOf(c.in(0)));
        }
        int r = s.length;
        int start = clampIndex(c.attrInt("start", 0), r);
        int end = clampIndex(c.attrInt("end", r), r);
        long[] part = Arrays.copyOfRange(s, start, Math.max(start, end));
        if (Arrays.stream(part).allMatch(d -> d >= 0)) {
            return new Value[] {Value.constant(TensorValue.ofLongs(outName(c), part, part.length))};
        }
        Output<?> full = c.ops().shapeOf(c.in(0));
        Output<?> y = start == 0 && end == r ? full : c.ops().op("Slice").in(full).in(c.ops().longs(start))
                .in(c.ops().longs(part.length)).out();
        boolean[] known = new boolean[part.length];
        for (int i = 0; i < part.length; i++) {
            known[i] = part[i] >= 0;
        }
        // the static dimensions stay known: shape arithmetic on them folds although the batch is symbolic
        return new Value[] {Value.partial(y, part, known)};
    }

    private static int clampIndex(long i, int r) {
        long v = i < 0 ? i + r : i;
        return (int) Math.max(0, Math.min(r, v));
    }

    private static Value[] size(NodeContext c) {
        long[] s = c.shape(0);
        if (s != null && Arrays.stream(s).allMatch(d -> d >= 0)) {
            return new Value[] {Value.constant(TensorValue.ofLongs(outName(c), new long[] {product(s)}))};
        }
        return NodeContext.one(c.ops().op("Size").in(c.in(0)).attr("out_type", DataType.DT_INT64).out());
    }

    static long product(long[] s) {
        long n = 1;
        for (long d : s) {
            n *= d;
        }
        return n;
    }

    private static Value[] reshape(NodeContext c) {
        GraphOps o = c.ops();
        boolean allowZero = c.attrInt("allowzero", 0) == 1;
        long[] in = c.shape(0);
        if (c.isConstant(1)) {
            long[] target = c.constLongs(1, "shape");
            boolean resolved = true;
            for (int i = 0; i < target.length; i++) {
                if (target[i] == 0 && !allowZero) {
                    if (in != null && i < in.length && in[i] >= 0) {
                        target[i] = in[i];
                    } else {
                        resolved = false;
                    }
                }
            }
            if (resolved) {
                return NodeContext.one(o.reshape(c.in(0), target));
            }
        }
        if (c.has(1) && c.value(1).isPartial()) {
            // a shape with one symbolic element (the batch): that element is the -1 of a static reshape
            long[] target = c.value(1).partialValues();
            boolean[] known = c.value(1).partialKnown();
            int unknown = 0;
            boolean resolved = true;
            for (int i = 0; i < target.length; i++) {
                if (!known[i]) {
                    unknown++;
                    target[i] = -1;
                } else if (target[i] == -1) {
                    unknown++;
                } else if (target[i] == 0 && !allowZero) {
                    if (in != null && i < in.length && in[i] >= 0) {
                        target[i] = in[i];
                    } else {
                        resolved = false;
                    }
                }
            }
            if (unknown <= 1 && resolved) {
                return NodeContext.one(o.reshape(c.in(0), target));
            }
            // else a Pack of the known elements as constants and the others read at run time: TensorFlow's shape
            // inference then keeps the known sizes static for the ops downstream
            Output<?> dynamic = o.cast(c.in(1), DataType.DT_INT64);
            Output<?> xs = null;
            Output<?>[] parts = new Output<?>[target.length];
            for (int i = 0; i < target.length; i++) {
                if (known[i] && target[i] != 0) {
                    parts[i] = o.scalarLong(target[i]);
                } else if (known[i] && !allowZero && (in == null || i >= in.length)) {
                    throw c.fail("shape element " + i + " is 0 (copy the input's size) but the input has no axis " + i);
                } else if (known[i] && allowZero) {
                    parts[i] = o.scalarLong(0);
                } else {
                    Output<?> src = dynamic;
                    int at = i;
                    if (known[i]) { // 0: the input's size on that axis
                        xs = xs == null ? o.shapeOf(c.in(0)) : xs;
                        src = xs;
                    }
                    parts[i] = o.op("GatherV2").in(src).in(o.scalarInt(at)).in(o.scalarInt(0)).out();
                }
            }
            Output<?> packed = o.op("Pack").inList(parts).attr("axis", 0L).out();
            return NodeContext.one(o.op("Reshape").in(c.in(0)).in(packed).out());
        }
        Output<?> shape = o.cast(c.in(1), DataType.DT_INT64);
        if (!allowZero) {
            long[] ss = c.shape(1);
            if (ss == null || ss.length != 1 || ss[0] < 0 || in == null) {
                throw c.fail("a shape computed at run time needs a known length and a known input rank; specialise the"
                        + " input shapes (ImportOptions.inputShape)");
            }
            int n = (int) ss[0];
            Output<?> xs = o.shapeOf(c.in(0));
            Output<?> copy;
            if (in.length >= n) {
                copy = o.op("Slice").in(xs).in(o.longs(0)).in(o.longs(n)).out();
            } else {
                long[] ones = new long[n - in.length];
                Arrays.fill(ones, 1);
                copy = o.concat(List.of(xs, o.longs(ones)), 0);
            }
            shape = o.select(o.binary("Equal", shape, o.longs(new long[n])), copy, shape);
        }
        return NodeContext.one(o.op("Reshape").in(c.in(0)).in(shape).out());
    }

    private static Value[] flatten(NodeContext c) {
        GraphOps o = c.ops();
        int r = c.rank(0);
        long axis = c.attrInt("axis", 1);
        if (axis < -r || axis > r) {
            throw c.fail("axis " + axis + " is outside [" + -r + ", " + r + "]");
        }
        int a = (int) (axis < 0 ? axis + r : axis);
        long[] s = c.shape(0);
        long left = knownProduct(s, 0, a);
        long right = knownProduct(s, a, r);
        if (left < 0 && right < 0) {
            Output<?> xs = o.shapeOf(c.in(0));
            Output<?> head = o.op("Slice").in(xs).in(o.longs(0)).in(o.longs(a)).out();
            Output<?> l = o.reduce("Prod", head, true, 0);
            return NodeContext.one(o.op("Reshape").in(c.in(0)).in(o.concat(List.of(l, o.longs(-1)), 0)).out());
        }
        return NodeContext.one(o.reshape(c.in(0), left < 0 ? -1 : left, right < 0 ? -1 : right));
    }

    private static long knownProduct(long[] s, int from, int to) {
        long n = 1;
        for (int i = from; i < to; i++) {
            if (s[i] < 0) {
                return -1;
            }
            n *= s[i];
        }
        return n;
    }

    private static Value[] transpose(NodeContext c) {
        int r = c.rank(0);
        long[] perm = c.attrInts("perm", null);
        int[] p = new int[r];
        if (perm == null) {
            for (int i = 0; i < r; i++) {
                p[i] = r - 1 - i;
            }
        } else {
            if (perm.length != r) {
                throw c.fail("perm " + Arrays.toString(perm) + " does not match rank " + r);
            }
            for (int i = 0; i < r; i++) {
                p[i] = c.axis(perm[i], r);
            }
        }
        return NodeContext.one(c.ops().transpose(c.in(0), p));
    }

    private static Value[] concat(NodeContext c) {
        List<Output<?>> xs = new ArrayList<>();
        int rank = -1;
        for (int i = 0; i < c.inputCount(); i++) {
            if (c.has(i)) {
                xs.add(c.in(i));
                if (rank < 0 && c.shape(i) != null) {
                    rank = c.shape(i).length;
                }
            }
        }
        if (rank < 0) {
            throw c.fail("the inputs' rank is unknown; specialise the input shapes");
        }
        int axis = c.axis(c.attrInt("axis", 0), rank);
        if (xs.size() == 1) {
            return NodeContext.one(c.ops().identity(xs.get(0)));
        }
        return NodeContext.one(c.ops().concat(xs, axis));
    }

    private static Value[] split(NodeContext c) {
        int r = c.rank(0);
        int axis = c.axis(c.attrInt("axis", 0), r);
        int outputs = c.node().outputs().size();
        long[] sizes;
        if (c.opset() >= 13 && c.has(1)) {
            sizes = c.constLongs(1, "split");
        } else if (c.hasAttr("split")) {
            sizes = c.attrInts("split", null);
        } else {
            long dim = c.dim(0, axis);
            if (dim < 0) {
                throw c.fail("an even split needs the size of axis " + axis + ", which is unknown; specialise the input"
                        + " shapes");
            }
            int n = (int) c.attrInt("num_outputs", outputs);
            long chunk = (dim + n - 1) / n;
            sizes = new long[n];
            long left = dim;
            for (int i = 0; i < n; i++) {
                sizes[i] = Math.min(chunk, left);
                left -= sizes[i];
            }
        }
        if (sizes.length != outputs) {
            throw c.fail("split sizes " + Arrays.toString(sizes) + " do not match " + outputs + " outputs");
        }
        GraphOps o = c.ops();
        org.tensorflow.GraphOperation op = o.op("SplitV").in(c.in(0)).in(o.longs(sizes)).in(o.scalarInt(axis))
                .attr("num_split", sizes.length).build();
        Value[] out = new Value[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            out[i] = Value.of(op.output(i));
        }
        return out;
    }

    private static Value[] slice(NodeContext c) {
        int r = c.rank(0);
        long[] starts;
        long[] ends;
        long[] axes;
        long[] steps;
        if (c.opset() < 10) {
            starts = c.attrInts("starts", null);
            ends = c.attrInts("ends", null);
            axes = c.attrInts("axes", null);
            steps = null;
        } else {
            starts = c.constLongs(1, "starts");
            ends = c.constLongs(2, "ends");
            axes = c.has(3) ? c.constLongs(3, "axes") : null;
            steps = c.has(4) ? c.constLongs(4, "steps") : null;
        }
        if (starts == null || ends == null || starts.length != ends.length) {
            throw c.fail("starts and ends must be given with equal lengths");
        }
        long[] begin = new long[r];
        long[] end = new long[r];
        long[] stride = new long[r];
        Arrays.fill(stride, 1);
        long beginMask = (1L << r) - 1;
        long endMask = (1L << r) - 1;
        long[] shape = c.shape(0);
        for (int i = 0; i < starts.length; i++) {
            int a = c.axis(axes == null ? i : axes[i], r);
            long step = steps == null ? 1 : steps[i];
            if (step == 0) {
                throw c.fail("step 0 on axis " + a);
            }
            beginMask &= ~(1L << a);
            endMask &= ~(1L << a);
            long dim = shape[a];
            long s = starts[i];
            long e = ends[i];
            if (dim >= 0) {
                // ONNX's clamping, done here so TensorFlow only sees in-range, non-negative bounds
                s = s < 0 ? s + dim : s;
                e = e < 0 ? e + dim : e;
                if (step > 0) {
                    s = Math.max(0, Math.min(dim, s));
                    e = Math.max(0, Math.min(dim, e));
                } else {
                    s = Math.max(0, Math.min(dim - 1, s));
                    e = Math.max(-1, Math.min(dim - 1, e));
                    if (e == -1) {
                        endMask |= 1L << a;
                        e = 0;
                    }
                }
            }
            begin[a] = s;
            end[a] = e;
            stride[a] = step;
        }
        GraphOps o = c.ops();
        return NodeContext.one(o.op("StridedSlice").in(c.in(0)).in(o.indices(begin)).in(o.indices(end)).in(o.indices(stride))
                .attr("begin_mask", beginMask).attr("end_mask", endMask).out());
    }

    /** Indices as int64 with negative values wrapped by the dimension size. */
    private static Output<?> wrapIndices(NodeContext c, int indexInput, int dataInput, int axis) {
        GraphOps o = c.ops();
        long dim = c.dim(dataInput, axis);
        if (c.isConstant(indexInput) && dim >= 0) {
            long[] idx = c.constLongs(indexInput, "indices");
            for (int i = 0; i < idx.length; i++) {
                if (idx[i] < -dim || idx[i] >= dim) {
                    throw c.fail("index " + idx[i] + " is out of range for axis " + axis + " of size " + dim);
                }
                if (idx[i] < 0) {
                    idx[i] += dim;
                }
            }
            return o.constant(TensorValue.ofLongs("indices", idx, c.constant(indexInput, "indices").dims()));
        }
        Output<?> idx = o.cast(c.in(indexInput), DataType.DT_INT64);
        Output<?> size = dim >= 0 ? o.scalarLong(dim)
                : o.op("GatherV2").in(o.shapeOf(c.in(dataInput))).in(o.scalarInt(axis)).in(o.scalarInt(0)).out();
        Output<?> zero = o.scalarLong(0);
        return o.select(o.binary("Less", idx, zero), o.binary("AddV2", idx, size), idx);
    }

    private static Value[] gather(NodeContext c) {
        int r = c.rank(0);
        int axis = c.axis(c.attrInt("axis", 0), r);
        Output<?> idx = wrapIndices(c, 1, 0, axis);
        GraphOps o = c.ops();
        return NodeContext.one(o.op("GatherV2").in(c.in(0)).in(idx).in(o.scalarInt(axis)).out());
    }

    private static Value[] gatherElements(NodeContext c) {
        int r = c.rank(0);
        int axis = c.axis(c.attrInt("axis", 0), r);
        long[] is = c.staticShape(1, "GatherElements");
        GraphOps o = c.ops();
        Output<?> idx = wrapIndices(c, 1, 0, axis);
        // full coordinates [..., r]: the index along `axis`, the position itself along every other axis
        List<Output<?>> coords = new ArrayList<>();
        int n = (int) product(is);
        for (int d = 0; d < r; d++) {
            if (d == axis) {
                coords.add(idx);
                continue;
            }
            long[] pos = new long[n];
            long stride = 1;
            for (int k = r - 1; k > d; k--) {
                stride *= is[k];
            }
            for (int i = 0; i < n; i++) {
                pos[i] = (i / stride) % is[d];
            }
            coords.add(o.constant(TensorValue.ofLongs("coord", pos, is)));
        }
        Output<?> stacked = o.op("Pack").inList(coords.toArray(new Output<?>[0])).attr("axis", (long) r).out();
        return NodeContext.one(o.binary("GatherNd", c.in(0), stacked));
    }

    private static long[] axesInputOrAttr(NodeContext c, int input) {
        if (c.opset() >= 13) {
            return c.has(input) ? c.constLongs(input, "axes") : null;
        }
        return c.attrInts("axes", null);
    }

    private static Value[] unsqueeze(NodeContext c) {
        long[] axes = axesInputOrAttr(c, 1);
        if (axes == null) {
            throw c.fail("axes are required");
        }
        int r = c.rank(0) + axes.length;
        int[] norm = new int[axes.length];
        for (int i = 0; i < axes.length; i++) {
            norm[i] = c.axis(axes[i], r);
        }
        Arrays.sort(norm);
        Output<?> y = c.in(0);
        for (int a : norm) {
            y = c.ops().binary("ExpandDims", y, c.ops().scalarInt(a));
        }
        return NodeContext.one(axes.length == 0 ? c.ops().identity(y) : y);
    }

    private static Value[] squeeze(NodeContext c) {
        long[] axes = axesInputOrAttr(c, 1);
        long[] s = c.shape(0);
        List<Long> dims = new ArrayList<>();
        if (axes == null) {
            if (s == null || Arrays.stream(s).anyMatch(d -> d < 0)) {
                return NodeContext.one(c.ops().op("Squeeze").in(c.in(0)).out());
            }
            for (int i = 0; i < s.length; i++) {
                if (s[i] == 1) {
                    dims.add((long) i);
                }
            }
        } else {
            int r = c.rank(0);
            for (long a : axes) {
                int n = c.axis(a, r);
                if (s[n] >= 0 && s[n] != 1) {
                    throw c.fail("axis " + a + " has size " + s[n] + ", not 1");
                }
                dims.add((long) n);
            }
        }
        long[] d = dims.stream().mapToLong(Long::longValue).toArray();
        return NodeContext.one(c.ops().op("Squeeze").in(c.in(0)).attr("squeeze_dims", d).out());
    }

    private static Value[] expand(NodeContext c) {
        GraphOps o = c.ops();
        long[] in = c.shape(0);
        if (c.isConstant(1) && in != null && Arrays.stream(in).allMatch(d -> d >= 0)) {
            long[] target = c.constLongs(1, "shape");
            long[] out = broadcast(c, in, target);
            if (Arrays.equals(out, in)) {
                return NodeContext.one(o.identity(c.in(0)));
            }
            return NodeContext.one(o.op("BroadcastTo").in(c.in(0)).in(o.indices(out)).out());
        }
        Output<?> target = o.cast(c.in(1), DataType.DT_INT32);
        Output<?> shape = o.binary("BroadcastArgs", o.op("Shape").in(c.in(0)).attr("out_type", DataType.DT_INT32).out(),
                target);
        return NodeContext.one(o.op("BroadcastTo").in(c.in(0)).in(shape).out());
    }

    static long[] broadcast(NodeContext c, long[] a, long[] b) {
        int r = Math.max(a.length, b.length);
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            long x = i - (r - a.length) >= 0 ? a[i - (r - a.length)] : 1;
            long y = i - (r - b.length) >= 0 ? b[i - (r - b.length)] : 1;
            if (x != y && x != 1 && y != 1) {
                throw c.fail("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            }
            out[i] = x == 1 ? y : x;
        }
        return out;
    }

    private static Value[] constantOfShape(NodeContext c) {
        TensorValue v = c.attr("value").map(OnnxAttribute::tensorValue)
                .orElse(TensorValue.ofFloats("value", new float[] {0f}, 1));
        if (v.elementCount() != 1) {
            throw c.fail("value must hold one element, got " + v.elementCount());
        }
        GraphOps o = c.ops();
        Output<?> scalar = o.reshape(o.constant(v.withName("value")), new long[0]);
        Output<?> shape = o.cast(c.in(0), DataType.DT_INT64);
        return NodeContext.one(o.op("Fill").in(shape).in(scalar).out());
    }

    private static Value[] pad(NodeContext c) {
        GraphOps o = c.ops();
        int r = c.rank(0);
        String mode;
        long[] pads;
        Output<?> value = null;
        if (c.opset() < 11) {
            mode = c.attrString("mode", "constant");
            pads = c.attrInts("pads", null);
            value = o.scalarOf(c.attrFloat("value", 0f), c.dtype(0));
        } else {
            mode = c.attrString("mode", "constant");
            pads = c.constLongs(1, "pads");
            if (c.has(2)) {
                value = o.reshape(c.in(2), new long[0]);
            }
        }
        long[] axes = c.opset() >= 18 && c.has(3) ? c.constLongs(3, "axes") : null;
        int n = axes == null ? r : axes.length;
        if (pads == null || pads.length != 2 * n) {
            throw c.fail("pads must have " + 2 * n + " values, got " + (pads == null ? "none" : Arrays.toString(pads)));
        }
        long[] before = new long[r];
        long[] after = new long[r];
        for (int i = 0; i < n; i++) {
            int a = axes == null ? i : c.axis(axes[i], r);
            before[a] = pads[i];
            after[a] = pads[i + n];
            if (before[a] < 0 || after[a] < 0) {
                throw c.fail("negative pads (cropping) are not supported: " + Arrays.toString(pads));
            }
        }
        long[] flat = new long[2 * r];
        for (int a = 0; a < r; a++) {
            flat[2 * a] = before[a];
            flat[2 * a + 1] = after[a];
        }
        Output<?> paddings = o.reshape(o.indices(flat), r, 2);
        switch (mode) {
            case "constant" -> {
                if (value == null) {
                    value = o.scalarOf(0, c.dtype(0));
                }
                return NodeContext.one(o.op("PadV2").in(c.in(0)).in(paddings).in(value).out());
            }
            case "reflect" -> {
                return NodeContext.one(o.op("MirrorPad").in(c.in(0)).in(paddings).attr("mode", "REFLECT").out());
            }
            case "edge" -> {
                Output<?> y = c.in(0);
                for (int a = 0; a < r; a++) {
                    if (before[a] == 0 && after[a] == 0) {
                        continue;
                    }
                    long dim = c.dim(0, a);
                    if (dim < 0) {
                        throw c.fail("edge padding needs the size of axis " + a + "; specialise the input shapes");
                    }
                    long[] idx = new long[(int) (dim + before[a] + after[a])];
                    for (int i = 0; i < idx.length; i++) {
                        idx[i] = Math.max(0, Math.min(dim - 1, i - before[a]));
                    }
                    y = o.op("GatherV2").in(y).in(o.longs(idx)).in(o.scalarInt(a)).out();
                }
                return NodeContext.one(y);
            }
            default -> throw c.fail("mode '" + mode + "' is not supported (constant, reflect, edge are)");
        }
    }

    private static Value[] trilu(NodeContext c) {
        long[] s = c.shape(0);
        int r = c.rank(0);
        if (r < 2 || s[r - 1] < 0 || s[r - 2] < 0) {
            throw c.fail("needs the sizes of the last two axes; specialise the input shapes");
        }
        long k = c.has(1) ? c.constLongs(1, "k")[0] : 0;
        boolean upper = c.attrInt("upper", 1) == 1;
        int rows = (int) s[r - 2];
        int cols = (int) s[r - 1];
        boolean[] mask = new boolean[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                mask[i * cols + j] = upper ? j - i >= k : j - i <= k;
            }
        }
        GraphOps o = c.ops();
        Output<?> m;
        try (TBool tm = TBool.tensorOf(org.tensorflow.ndarray.Shape.of(rows, cols),
                org.tensorflow.ndarray.buffer.DataBuffers.of(mask, true, false))) {
            m = o.constant(tm);
        }
        return NodeContext.one(o.select(m, c.in(0), o.scalarOf(0, c.dtype(0))));
    }

    /** NonZero: TensorFlow's Where gives the coordinates as [count, rank], ONNX wants [rank, count]. */
    private static Value[] nonZero(NodeContext c) {
        GraphOps o = c.ops();
        int r = c.rank(0);
        Output<?> x = c.in(0);
        if (r == 0) {
            x = o.reshape(x, 1); // a scalar's coordinates have no rows: [0, count]
            Output<?> idx = o.op("Where").in(x).out();
            return NodeContext.one(o.reshape(o.transpose(idx, 1, 0), 0, -1));
        }
        return NodeContext.one(o.transpose(o.op("Where").in(x).out(), 1, 0));
    }

    /** GatherND with batch_dims 0; negative indices are wrapped by the data's sizes. */
    private static Value[] gatherNd(NodeContext c) {
        long batchDims = c.attrInt("batch_dims", 0);
        if (batchDims != 0) {
            throw c.fail("batch_dims=" + batchDims + " is not supported (batch_dims 0 is); to make it importable,"
                    + " export the gather with explicit leading indices or bind the inputs it depends on to constants"
                    + " (ImportOptions.constantInput) so it is evaluated at import");
        }
        GraphOps o = c.ops();
        long[] is = c.shape(1);
        int r = c.rank(0);
        if (is == null || is.length == 0 || is[is.length - 1] < 0) {
            throw c.fail("needs the size of the indices' last axis; specialise the input shapes");
        }
        int m = (int) is[is.length - 1];
        if (m > r) {
            throw c.fail("indices address " + m + " axes of a rank-" + r + " input");
        }
        Output<?> idx = o.cast(c.in(1), DataType.DT_INT64);
        Output<?> sizes = o.op("Slice").in(o.shapeOf(c.in(0))).in(o.longs(0)).in(o.longs(m)).out();
        idx = o.select(o.binary("Less", idx, o.scalarLong(0)), o.binary("AddV2", idx, sizes), idx);
        return NodeContext.one(o.op("GatherNd").in(c.in(0)).in(idx).out());
    }

    private static Value[] argExtreme(NodeContext c, String tf) {
        GraphOps o = c.ops();
        int r = c.rank(0);
        int axis = c.axis(c.attrInt("axis", 0), r);
        boolean keep = c.attrInt("keepdims", 1) == 1;
        boolean last = c.attrInt("select_last_index", 0) == 1;
        Output<?> x = c.in(0);
        if (last) {
            x = o.op("ReverseV2").in(x).in(o.ints(axis)).out();
        }
        Output<?> idx = o.op(tf).in(x).in(o.scalarInt(axis)).attr("output_type", DataType.DT_INT64).out();
        if (last) {
            long dim = c.dim(0, axis);
            if (dim < 0) {
                throw c.fail("select_last_index needs the size of axis " + axis + "; specialise the input shapes");
            }
            idx = o.binary("Sub", o.scalarLong(dim - 1), idx);
        }
        if (keep) {
            idx = o.binary("ExpandDims", idx, o.scalarInt(axis));
        }
        return NodeContext.one(idx);
    }
}
