package io.senseflow.tf.discriminator;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.OnnxAttribute;
import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.ValueInfo;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a discriminator needs to know about a vision transformer's ONNX graph: its stack of transformer blocks, its
 * patch embedding, and which value each {@link Tap} means. Works on the graph's names and data flow only, so it
 * handles PyTorch exports ({@code /model/layers.3/Add_1}, {@code /vit/encoder/layer.3/output/Add},
 * {@code /blocks.3/Add_1}) and the SDK's own graphs ({@code transformer_blocks.3}) alike.
 *
 * <p><b>Blocks.</b> A node belongs to block {@code k} when its name (or, for unnamed nodes, its first output's name)
 * contains a path element {@code <stack>.<k>} or {@code <stack>_<k>} with {@code <stack>} one of {@code blocks},
 * {@code block}, {@code layers}, {@code layer}, {@code transformer_blocks}, {@code resblocks}, {@code h}; the first
 * such element of a name counts (the outer stack). Names are grouped by what precedes it, and the group with the
 * most distinct indices is the block stack.
 *
 * <p><b>Patch embedding.</b> The first {@code Conv} whose kernel equals its stride (and is larger than 1); its kernel
 * is the patch size and its output the {@link Tap#patchEmbedding()} value (an NCHW grid).
 *
 * <p><b>Block outputs.</b> The residual stream entering block 0 is the value that block 0 reads from outside the
 * stack and that descends from the patch embedding (or from the image input when there is no patchifying
 * convolution). Within block {@code k}, the stream is followed through the residual {@code Add}s that take it as a
 * direct operand ({@code x + attn(ln(x))}, then {@code h + mlp(ln(h))}; layer-scale multiplies are on the other
 * operand); the last one is the block's output, which also enters block {@code k + 1}. For post-norm blocks, where
 * the last residual sum is normalised inside the block, the output is the single value leaving the block that
 * descends from it. When that is ambiguous the error lists the candidates: tap them by name.
 *
 * <p>Resolution failures are {@link InvalidRequestException}s that name the tap and list the closest names.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class BackboneStructure {
    private static final Pattern BLOCK = Pattern.compile(
            "(?<![A-Za-z0-9_])(transformer_blocks|resblocks|blocks|block|layers|layer|h)[._](\\d+)(?![0-9])");

    private final String modelName;
    private final List<OnnxNode> nodes;
    private final Map<String, Integer> producer = new HashMap<>();
    private final Map<String, List<Integer>> consumers = new HashMap<>();
    private final Set<String> graphOutputs = new LinkedHashSet<>();
    private final Set<String> graphInputs = new LinkedHashSet<>();
    private final Set<String> initializers = new HashSet<>();
    private final Map<String, Integer> nodeByName = new HashMap<>();
    private final int[] blockOf;
    private final String stack;
    private final int blockCount;
    private final int patchConv;
    private final PatchSize patchSize;
    private final Map<Integer, String> blockOutputs = new HashMap<>();
    private final String imageInput;
    private final boolean unet;

    /**
     * The patch size of the patchifying convolution.
     *
     * @param height rows per patch
     * @param width columns per patch
     */
    public record PatchSize(int height, int width) {
    }

    /** Ops whose outputs describe a tensor's shape, not its values: shape arithmetic starts there. */
    private static final Set<String> SHAPE_OPS = Set.of("Shape", "Size");
    private static final Pattern UNET_BLOCK = Pattern.compile(
            "(?<![A-Za-z0-9_])(down_blocks|up_blocks)[._](\\d+)(?![0-9])|(?<![A-Za-z0-9_])(mid_block)(?![A-Za-z0-9_])");

    private BackboneStructure(OnnxModel model, String modelName, String imageInput) {
        OnnxGraph g = model.graph();
        this.modelName = modelName;
        this.imageInput = imageInput;
        this.nodes = g.nodes();
        for (TensorValue t : g.initializers()) {
            initializers.add(t.name());
        }
        for (ValueInfo in : g.inputs()) {
            if (!initializers.contains(in.name())) {
                graphInputs.add(in.name());
            }
        }
        for (ValueInfo out : g.outputs()) {
            graphOutputs.add(out.name());
        }
        for (int i = 0; i < nodes.size(); i++) {
            OnnxNode n = nodes.get(i);
            for (String o : n.outputs()) {
                if (!o.isEmpty()) {
                    producer.put(o, i);
                }
            }
            for (String in : n.inputs()) {
                if (!in.isEmpty()) {
                    consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(i);
                }
            }
            if (!n.name().isEmpty()) {
                nodeByName.putIfAbsent(n.name(), i);
            }
        }
        // block stack
        Map<String, Set<Integer>> indices = new LinkedHashMap<>();
        String[] stackOf = new String[nodes.size()];
        int[] indexOf = new int[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            Matcher m = BLOCK.matcher(key(nodes.get(i)));
            if (m.find()) {
                stackOf[i] = key(nodes.get(i)).substring(0, m.start()) + m.group(1);
                indexOf[i] = Integer.parseInt(m.group(2));
                indices.computeIfAbsent(stackOf[i], k -> new HashSet<>()).add(indexOf[i]);
            }
        }
        String best = null;
        for (Map.Entry<String, Set<Integer>> e : indices.entrySet()) {
            if (best == null || e.getValue().size() > indices.get(best).size()) {
                best = e.getKey();
            }
        }
        int[] unetBlocks = unetBlocks();
        this.unet = unetBlocks != null;
        if (unet) {
            this.blockOf = unetBlocks;
            int max = -1;
            for (int b : blockOf) {
                max = Math.max(max, b);
            }
            this.blockCount = max + 1;
            this.stack = "UNet down_blocks, mid_block, up_blocks";
        } else {
            this.stack = best == null ? "" : best;
            this.blockOf = new int[nodes.size()];
            int max = -1;
            for (int i = 0; i < nodes.size(); i++) {
                blockOf[i] = best != null && best.equals(stackOf[i]) ? indexOf[i] : -1;
                max = Math.max(max, blockOf[i]);
            }
            this.blockCount = max + 1;
        }
        // patch embedding
        int conv = -1;
        PatchSize ps = null;
        for (int i = 0; i < nodes.size() && conv < 0; i++) {
            OnnxNode n = nodes.get(i);
            if (!n.opType().equals("Conv") || !n.domain().isEmpty() && !n.domain().equals("ai.onnx")) {
                continue;
            }
            long[] kernel = kernelOf(n, g);
            long[] strides = n.attribute("strides").map(OnnxAttribute::ints).orElse(new long[] {1, 1});
            if (kernel != null && kernel.length == 2 && strides.length == 2 && kernel[0] == strides[0]
                    && kernel[1] == strides[1] && (kernel[0] > 1 || kernel[1] > 1)) {
                conv = i;
                ps = new PatchSize((int) kernel[0], (int) kernel[1]);
            }
        }
        this.patchConv = conv;
        this.patchSize = ps;
    }

    /**
     * @param model a vision backbone's ONNX graph
     * @return its structure
     */
    public static BackboneStructure of(OnnxModel model) {
        return of(model, null);
    }

    /**
     * @param model a backbone or denoiser graph
     * @param imageInput the graph input that carries the image or latent (a denoiser also takes text, timestep and
     *     position inputs whose streams enter the blocks too), or null for any input
     * @return its structure
     */
    public static BackboneStructure of(OnnxModel model, String imageInput) {
        String name = model.graph().name().isEmpty() ? "the backbone graph" : "backbone graph '" + model.graph().name() + "'";
        return new BackboneStructure(model, name, imageInput);
    }

    /**
     * A diffusers UNet's blocks, in the order the feature maps pass them: {@code down_blocks.0..}, {@code mid_block},
     * {@code up_blocks.0..} (outermost path element of each node name); null when the graph has no such names.
     */
    private int[] unetBlocks() {
        int[] kind = new int[nodes.size()];
        int[] idx = new int[nodes.size()];
        int maxDown = -1;
        int maxUp = -1;
        boolean mid = false;
        for (int i = 0; i < nodes.size(); i++) {
            Matcher m = UNET_BLOCK.matcher(key(nodes.get(i)));
            kind[i] = -1;
            if (!m.find()) {
                continue;
            }
            if (m.group(3) != null) {
                kind[i] = 1;
                mid = true;
            } else {
                kind[i] = m.group(1).equals("down_blocks") ? 0 : 2;
                idx[i] = Integer.parseInt(m.group(2));
                if (kind[i] == 0) {
                    maxDown = Math.max(maxDown, idx[i]);
                } else {
                    maxUp = Math.max(maxUp, idx[i]);
                }
            }
        }
        if (maxDown < 0 || maxUp < 0 || !mid) {
            return null;
        }
        int[] out = new int[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            out[i] = switch (kind[i]) {
                case 0 -> idx[i];
                case 1 -> maxDown + 1;
                case 2 -> maxDown + 2 + idx[i];
                default -> -1;
            };
        }
        return out;
    }

    /**
     * A UNet block's output: the value it produces that the next block reads (the last block: that nodes outside
     * the blocks read). Skip connections go to later up blocks, not the next block, so down blocks have one.
     */
    private String unetBlockOutput(int k) {
        // feature maps descend from the image input; the time embedding (read by every resnet) and shape arithmetic
        // also cross block boundaries, but are not the stream
        Set<String> fromImage = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>();
        if (imageInput != null && graphInputs.contains(imageInput)) {
            todo.add(imageInput);
        } else {
            todo.addAll(graphInputs);
        }
        fromImage.addAll(todo);
        while (!todo.isEmpty()) {
            for (int c : consumers.getOrDefault(todo.pop(), List.of())) {
                if (SHAPE_OPS.contains(nodes.get(c).opType())) {
                    continue;
                }
                for (String o : nodes.get(c).outputs()) {
                    if (!o.isEmpty() && fromImage.add(o)) {
                        todo.push(o);
                    }
                }
            }
        }
        Set<String> out = new LinkedHashSet<>();
        for (int i = 0; i < nodes.size(); i++) {
            boolean reader = k + 1 < blockCount ? blockOf[i] == k + 1 : blockOf[i] < 0;
            if (!reader) {
                continue;
            }
            for (String in : nodes.get(i).inputs()) {
                Integer p = producer.get(in);
                if (p != null && blockOf[p] == k && fromImage.contains(in)) {
                    out.add(in);
                }
            }
        }
        if (k + 1 == blockCount) {
            for (String o : graphOutputs) {
                Integer p = producer.get(o);
                if (p != null && blockOf[p] == k) {
                    out.add(o);
                }
            }
        }
        if (out.size() != 1) {
            throw InvalidRequestException.of("the output of UNet block " + k + " of " + modelName + " (" + stack + ")",
                    "one feature map it passes to the " + (k + 1 < blockCount ? "next block" : "output layers"),
                    (out.isEmpty() ? "none" : "several: " + out) + "; tap it by name instead");
        }
        return out.iterator().next();
    }

    private static String key(OnnxNode n) {
        return !n.name().isEmpty() ? n.name() : n.outputs().isEmpty() ? "" : n.outputs().get(0);
    }

    private static long[] kernelOf(OnnxNode n, OnnxGraph g) {
        Optional<OnnxAttribute> k = n.attribute("kernel_shape");
        if (k.isPresent()) {
            return k.get().ints();
        }
        if (n.inputs().size() < 2) {
            return null;
        }
        return g.initializer(n.inputs().get(1)).map(t -> {
            long[] d = t.dims();
            return d.length == 4 ? new long[] {d[2], d[3]} : null;
        }).orElse(null);
    }

    /** @return the number of transformer blocks found (0 when no block stack was recognised) */
    public int blockCount() {
        return blockCount;
    }

    /** @return the name prefix of the block stack, e.g. {@code /model/layers}; empty when none */
    public String blockStack() {
        return stack;
    }

    /** @return the patch size of the patchifying convolution, if there is one */
    public Optional<PatchSize> patchSize() {
        return Optional.ofNullable(patchSize);
    }

    /** @return the graph's inputs (initializers excluded) */
    public List<String> inputs() {
        return List.copyOf(graphInputs);
    }

    /**
     * @param taps taps
     * @return the value name of each, in order
     */
    public List<String> resolveAll(List<Tap> taps) {
        List<String> out = new ArrayList<>();
        for (Tap t : taps) {
            out.add(resolve(t));
        }
        return out;
    }

    /**
     * @param tap a tap
     * @return the name of the ONNX value it reads
     * @throws InvalidRequestException when it does not resolve, with the closest names
     */
    public String resolve(Tap tap) {
        if (tap instanceof Tap.Named n) {
            return resolveName(n.name());
        }
        if (tap instanceof Tap.PatchEmbedding) {
            if (patchConv < 0) {
                throw InvalidRequestException.of(tap + " of " + modelName, "a Conv whose kernel equals its stride (the"
                        + " patchifying convolution)", "none; tap the embedding by name instead");
            }
            return nodes.get(patchConv).outputs().get(0);
        }
        int k = ((Tap.AfterBlock) tap).index();
        if (blockCount == 0) {
            throw InvalidRequestException.of(tap + " of " + modelName, "a stack of transformer blocks named like"
                    + " blocks.<k>, layer.<k> or layers.<k>", "no such names; tap block outputs by name instead");
        }
        int index = k < 0 ? blockCount + k : k;
        if (index < 0 || index >= blockCount) {
            throw InvalidRequestException.of(tap + " of " + modelName, "a block index in [0, " + blockCount + ") or"
                    + " [-" + blockCount + ", -1] (stack " + stack + ")", k);
        }
        return blockOutput(index);
    }

    private String resolveName(String name) {
        if (producer.containsKey(name) || graphInputs.contains(name)) {
            return name;
        }
        Integer n = nodeByName.get(name);
        if (n != null && !nodes.get(n).outputs().isEmpty()) {
            return nodes.get(n).outputs().get(0);
        }
        if (initializers.contains(name)) {
            throw InvalidRequestException.of("tap '" + name + "' of " + modelName, "a computed value or a node", "an"
                    + " initializer (a weight)");
        }
        throw InvalidRequestException.of("tap '" + name + "' of " + modelName, "a value or node name of the graph",
                "no such name; closest: " + nearest(name, 6));
    }

    /** @return up to {@code count} node and value names closest to {@code name} (edit distance, ignoring case) */
    List<String> nearest(String name, int count) {
        Set<String> names = new LinkedHashSet<>(graphInputs);
        for (OnnxNode n : nodes) {
            if (!n.name().isEmpty()) {
                names.add(n.name());
            }
            for (String o : n.outputs()) {
                if (!o.isEmpty()) {
                    names.add(o);
                }
            }
        }
        String q = name.toLowerCase(Locale.ROOT);
        Map<String, Integer> d = new HashMap<>();
        for (String s : names) {
            d.put(s, editDistance(q, s.toLowerCase(Locale.ROOT)));
        }
        return names.stream().sorted(Comparator.comparingInt(d::get)).limit(count).toList();
    }

    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    // ------------------------------------------------------------------ block outputs

    private String blockOutput(int k) {
        String cached = blockOutputs.get(k);
        if (cached != null) {
            return cached;
        }
        String out = unet ? unetBlockOutput(k) : followResiduals(k, k == 0 ? streamIntoFirstBlock() : blockOutput(k - 1));
        blockOutputs.put(k, out);
        return out;
    }

    private boolean isConstant(String value) {
        if (initializers.contains(value)) {
            return true;
        }
        Integer p = producer.get(value);
        return p != null && nodes.get(p).opType().equals("Constant");
    }

    private String streamIntoFirstBlock() {
        Set<String> fromOutside = new LinkedHashSet<>();
        for (int i = 0; i < nodes.size(); i++) {
            if (blockOf[i] != 0) {
                continue;
            }
            for (String in : nodes.get(i).inputs()) {
                if (in.isEmpty() || isConstant(in)) {
                    continue;
                }
                Integer p = producer.get(in);
                if (p == null ? graphInputs.contains(in) : blockOf[p] < 0) {
                    fromOutside.add(in);
                }
            }
        }
        Set<String> origin = new HashSet<>();
        if (patchConv >= 0) {
            origin.add(nodes.get(patchConv).outputs().get(0));
        } else if (imageInput != null && graphInputs.contains(imageInput)) {
            origin.add(imageInput);
        } else {
            origin.addAll(graphInputs);
        }
        Set<String> reach = reachableOutsideStack(origin);
        List<String> candidates = fromOutside.stream().filter(reach::contains).toList();
        if (candidates.size() != 1) {
            throw InvalidRequestException.of("the input of block 0 of " + modelName + " (stack " + stack + ")",
                    "one value that descends from the " + (patchConv >= 0 ? "patch embedding" : imageInput != null
                            ? "image input '" + imageInput + "'" : "image input"),
                    candidates.isEmpty() ? "none" : candidates + "; tap block outputs by name instead");
        }
        return candidates.get(0);
    }

    /** Values reachable from {@code origin} through nodes outside the block stack (origin included). */
    private Set<String> reachableOutsideStack(Set<String> origin) {
        Set<String> seen = new HashSet<>(origin);
        Deque<String> todo = new ArrayDeque<>(origin);
        while (!todo.isEmpty()) {
            String v = todo.pop();
            for (int c : consumers.getOrDefault(v, List.of())) {
                if (blockOf[c] >= 0) {
                    continue;
                }
                for (String o : nodes.get(c).outputs()) {
                    if (!o.isEmpty() && seen.add(o)) {
                        todo.push(o);
                    }
                }
            }
        }
        return seen;
    }

    private String followResiduals(int k, String stream) {
        String s = stream;
        boolean moved = false;
        while (true) {
            String next = null;
            for (int c : consumers.getOrDefault(s, List.of())) {
                OnnxNode n = nodes.get(c);
                if (blockOf[c] == k && n.opType().equals("Add") && n.outputs().size() == 1) {
                    next = n.outputs().get(0);
                    break;
                }
            }
            if (next == null) {
                break;
            }
            s = next;
            moved = true;
        }
        if (moved && leavesBlock(k, s)) {
            return s;
        }
        // post-norm blocks (the sum is normalised inside the block), or no residual Add: the one value leaving the
        // block that descends from where the chain ended
        List<String> leaving = new ArrayList<>();
        Set<String> reach = reachableInBlock(k, s);
        for (int i = 0; i < nodes.size(); i++) {
            if (blockOf[i] != k) {
                continue;
            }
            for (String o : nodes.get(i).outputs()) {
                if (!o.isEmpty() && reach.contains(o) && leavesBlock(k, o)) {
                    leaving.add(o);
                }
            }
        }
        if (leaving.size() != 1) {
            throw InvalidRequestException.of("the output of block " + k + " of " + modelName + " (stack " + stack + ")",
                    "one value leaving the block on the residual stream",
                    (leaving.isEmpty() ? "none" : "several: " + leaving) + "; tap it by name instead");
        }
        return leaving.get(0);
    }

    private boolean leavesBlock(int k, String value) {
        if (graphOutputs.contains(value)) {
            return true;
        }
        for (int c : consumers.getOrDefault(value, List.of())) {
            if (blockOf[c] != k) {
                return true;
            }
        }
        return false;
    }

    private Set<String> reachableInBlock(int k, String from) {
        Set<String> seen = new HashSet<>(Set.of(from));
        Deque<String> todo = new ArrayDeque<>(seen);
        while (!todo.isEmpty()) {
            String v = todo.pop();
            for (int c : consumers.getOrDefault(v, List.of())) {
                if (blockOf[c] != k) {
                    continue;
                }
                for (String o : nodes.get(c).outputs()) {
                    if (!o.isEmpty() && seen.add(o)) {
                        todo.push(o);
                    }
                }
            }
        }
        return seen;
    }

    @Override
    public String toString() {
        return "BackboneStructure[" + blockCount + " blocks (" + stack + "), patch " + patchSize + "]";
    }
}
