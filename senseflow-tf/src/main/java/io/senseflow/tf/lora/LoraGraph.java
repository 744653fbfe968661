package io.senseflow.tf.lora;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.RandomStream;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.OnnxAttribute;
import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.lora.LoraMerge;
import io.senseflow.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A graph with low-rank adapters on its projections (docs/distillation.md, "LoRA"), as an ONNX graph: the base
 * graph's nodes and initializers unchanged, plus, for every target weight {@code W}, two initializers
 * {@code <W>.lora_down} ({@code in x rank}) and {@code <W>.lora_up} ({@code rank x out}), a scalar
 * {@code <W>.lora_scale}, and four nodes beside each node that reads {@code W}:
 *
 * <pre>
 *   y = Node(x, W, ...)                       (the original node, output renamed y.lora_base)
 *   y = y.lora_base + scale * MatMul(MatMul(x, down), up)
 * </pre>
 *
 * where {@code scale = alpha / rank} (times a Gemm's own {@code alpha}). The adapter graph is an ordinary ONNX
 * model: TensorFlow imports it with only the adapters trainable, and ONNX Runtime runs it as it is (the "base +
 * adapters" form). {@link #merge} folds trained adapters into the weights, {@code W + (alpha/rank) down up} (in the
 * weight's stored orientation), and returns the base graph with those weights: a plain student with the teacher's
 * structure.
 *
 * <p>A weight is a target when every node that reads it is a selected MatMul (weight as input 1) or Gemm (input 1,
 * {@code transA = 0}) with that weight in the same orientation, directly or through a 2-D {@code Transpose} (how
 * exporters write {@code x @ W.T}); a weight also read elsewhere is left alone, since folding the adapter into it
 * would change the other readers.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class LoraGraph {
    /** Suffix of the down projections' initializers. */
    public static final String DOWN = io.senseflow.onnx.lora.LoraAdapterFile.DOWN;
    /** Suffix of the up projections' initializers. */
    public static final String UP = io.senseflow.onnx.lora.LoraAdapterFile.UP;
    /** Suffix of the scale initializers. */
    public static final String SCALE = ".lora_scale";

    /**
     * One adapted weight.
     *
     * @param weight the weight initializer's name
     * @param nodes the nodes that read it (all adapted)
     * @param in the size contracted with the input
     * @param out the output size
     * @param transposed whether the weight is stored {@code out x in} (Gemm with {@code transB = 1})
     * @param nodeAlpha the Gemm's {@code alpha} (1 for MatMul)
     */
    public record Target(String weight, List<String> nodes, long in, long out, boolean transposed, float nodeAlpha) {
        /** @return the down projection's initializer name */
        public String down() {
            return weight + DOWN;
        }

        /** @return the up projection's initializer name */
        public String up() {
            return weight + UP;
        }
    }

    private final OnnxModel base;
    private final OnnxModel adapted;
    private final LoraConfig config;
    private final List<Target> targets;

    private LoraGraph(OnnxModel base, OnnxModel adapted, LoraConfig config, List<Target> targets) {
        this.base = base;
        this.adapted = adapted;
        this.config = config;
        this.targets = targets;
    }

    /**
     * Adds adapters to a graph.
     *
     * @param base the graph (e.g. the teacher's denoiser)
     * @param config targets, rank, alpha
     * @param seed the down projections' seed when the config has none
     * @return the adapted graph
     * @throws InvalidRequestException if the config selects no projection of the graph (a rank above a target's
     *     smaller side is allowed: the adapter is then full-rank, with more parameters than it needs)
     */
    public static LoraGraph of(OnnxModel base, LoraConfig config, long seed) {
        Objects.requireNonNull(base, "base");
        Objects.requireNonNull(config, "config");
        OnnxGraph g = base.graph();
        Map<String, TensorValue> inits = new HashMap<>();
        for (TensorValue t : g.initializers()) {
            inits.put(t.name(), t);
        }
        // every reader of every value, to find weights read only by adaptable nodes (directly or through a
        // Transpose, as exporters of x @ W.T write it)
        Map<String, List<OnnxNode>> valueReaders = new HashMap<>();
        Map<String, List<OnnxNode>> readers = new LinkedHashMap<>();
        for (OnnxNode n : g.nodes()) {
            for (String i : new java.util.LinkedHashSet<>(n.inputs())) {
                valueReaders.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
                if (inits.containsKey(i)) {
                    readers.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
                }
            }
        }
        Set<String> graphOutputsAsWeights = new HashSet<>();
        g.outputs().forEach(v -> graphOutputsAsWeights.add(v.name()));
        List<Target> found = new ArrayList<>();
        Map<OnnxNode, Target> adaptedNodes = new HashMap<>();
        long count = 0;
        for (Map.Entry<String, List<OnnxNode>> e : readers.entrySet()) {
            TensorValue w = inits.get(e.getKey());
            if (w.dataType() != DataType.FLOAT || w.dims().length != 2 || graphOutputsAsWeights.contains(w.name())
                    || !config.selectsShape(w.dims())) {
                continue;
            }
            Boolean transposed = null;
            float alpha = 1;
            boolean ok = true;
            boolean named = false;
            List<String> nodes = new ArrayList<>();
            List<OnnxNode> adaptedReaders = new ArrayList<>();
            List<OnnxNode[]> uses = new ArrayList<>(); // {adapted node, the Transpose it reads W through, or null}
            for (OnnxNode r : e.getValue()) {
                if (LoraMerge.isTranspose2d(r) && !graphOutputsAsWeights.contains(r.outputs().get(0))) {
                    List<OnnxNode> through = valueReaders.getOrDefault(r.outputs().get(0), List.of());
                    if (through.isEmpty()) {
                        ok = false;
                    }
                    through.forEach(m -> uses.add(new OnnxNode[] {m, r}));
                } else {
                    uses.add(new OnnxNode[] {r, null});
                }
            }
            for (OnnxNode[] use : uses) {
                if (!ok) {
                    break;
                }
                OnnxNode n = use[0];
                String read = use[1] == null ? w.name() : use[1].outputs().get(0);
                Boolean direct = LoraMerge.orientation(n, read, config.opTypes());
                Boolean t = direct == null ? null : use[1] == null ? direct : !direct;
                if (t == null || (transposed != null && !transposed.equals(t))) {
                    ok = false;
                    break;
                }
                float a = n.opType().equals("Gemm") ? n.attribute("alpha").map(OnnxAttribute::floatValue).orElse(1f) : 1f;
                if (!nodes.isEmpty() && a != alpha) {
                    ok = false;
                    break;
                }
                alpha = a;
                transposed = t;
                named |= config.selectsName(n.name(), w.name());
                nodes.add(n.name());
                adaptedReaders.add(n);
            }
            if (!ok || !named) {
                continue;
            }
            long in = transposed ? w.dims()[1] : w.dims()[0];
            long out = transposed ? w.dims()[0] : w.dims()[1];
            if (inits.containsKey(w.name() + DOWN) || inits.containsKey(w.name() + UP)) {
                throw InvalidRequestException.of("lora base graph", "a graph without adapters", "initializer "
                        + w.name() + DOWN + " already present");
            }
            Target target = new Target(w.name(), List.copyOf(nodes), in, out, transposed, alpha);
            found.add(target);
            adaptedReaders.forEach(n -> adaptedNodes.put(n, target));
            count++;
        }
        if (count == 0) {
            throw InvalidRequestException.of("lora targets", "a pattern/op types/shapes selecting at least one MatMul or"
                    + " Gemm weight of " + (g.name().isEmpty() ? "the graph" : "graph '" + g.name() + "'"),
                    config.toJson());
        }
        long s = config.seed().orElse(seed);
        return new LoraGraph(base, rewrite(base, found, adaptedNodes, config, s), config, List.copyOf(found));
    }

    private static OnnxModel rewrite(OnnxModel base, List<Target> targets, Map<OnnxNode, Target> byNode,
                                     LoraConfig config, long seed) {
        OnnxGraph g = base.graph();
        List<TensorValue> inits = new ArrayList<>(g.initializers());
        int index = 0;
        for (Target t : targets) {
            int r = config.rankValue();
            float[] down = new float[Math.toIntExact(t.in() * r)];
            double bound = 1.0 / Math.sqrt(t.in());
            RandomStream rs = new RandomStream(seed, 0x10AA, index++);
            for (int i = 0; i < down.length; i++) {
                down[i] = (float) rs.nextUniform(-bound, bound);
            }
            inits.add(TensorValue.ofFloats(t.down(), down, t.in(), r));
            inits.add(TensorValue.ofFloats(t.up(), new float[Math.toIntExact(r * t.out())], r, t.out()));
            inits.add(TensorValue.ofFloats(t.weight() + SCALE, new float[] {(float) (config.scale() * t.nodeAlpha())}));
        }
        List<OnnxNode> nodes = new ArrayList<>();
        for (OnnxNode n : g.nodes()) {
            Target t = byNode.get(n);
            if (t == null) {
                nodes.add(n);
                continue;
            }
            String y = n.outputs().get(0);
            String x = n.inputs().get(0);
            String p = y + ".lora";
            nodes.add(n.withOutputs(List.of(p + "_base")));
            String label = (n.name().isEmpty() ? y : n.name()) + "/lora";
            nodes.add(node("MatMul", List.of(x, t.down()), p + "_xa", label + "/down"));
            nodes.add(node("MatMul", List.of(p + "_xa", t.up()), p + "_xab", label + "/up"));
            nodes.add(node("Mul", List.of(p + "_xab", t.weight() + SCALE), p + "_delta", label + "/scale"));
            nodes.add(node("Add", List.of(p + "_base", p + "_delta"), y, label + "/add"));
        }
        return base.withGraph(g.withNodes(nodes).withInitializers(inits));
    }

    private static OnnxNode node(String op, List<String> in, String out, String name) {
        return new OnnxNode(op, in, List.of(out), name, "", List.of());
    }

    /** @return the graph with adapters (B = 0: computes what the base does) */
    public OnnxModel model() {
        return adapted;
    }

    /** @return the graph without adapters */
    public OnnxModel base() {
        return base;
    }

    /** @return the settings */
    public LoraConfig config() {
        return config;
    }

    /** @return the adapted weights, in graph order */
    public List<Target> targets() {
        return targets;
    }

    /** @return the adapter initializer names (down and up of every target), the only trainable values */
    public Set<String> adapterNames() {
        Set<String> s = new java.util.LinkedHashSet<>();
        for (Target t : targets) {
            s.add(t.down());
            s.add(t.up());
        }
        return Collections.unmodifiableSet(s);
    }

    /** @return the adapters' parameter count */
    public long adapterParameters() {
        long n = 0;
        for (Target t : targets) {
            n += (t.in() + t.out()) * config.rankValue();
        }
        return n;
    }

    /** @return the initial adapter values (seeded down projections, zero up projections), by name */
    public Map<String, Tensor> initialAdapters() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        Set<String> names = adapterNames();
        for (TensorValue t : adapted.graph().initializers()) {
            if (names.contains(t.name())) {
                m.put(t.name(), Tensor.wrap(t.toFloats(), Arrays.stream(t.dims()).mapToInt(Math::toIntExact).toArray()));
            }
        }
        return m;
    }

    /**
     * The adapter graph with the given adapter values (the "base + adapters" form, what ONNX Runtime runs unmerged).
     *
     * @param adapters every adapter by name ({@link #adapterNames()}), e.g. a trained module's parameters
     * @return the adapted graph with those adapter initializers
     */
    public OnnxModel withAdapters(Map<String, Tensor> adapters) {
        requireAdapters(adapters);
        List<TensorValue> inits = new ArrayList<>();
        for (TensorValue t : adapted.graph().initializers()) {
            Tensor v = adapters.get(t.name());
            inits.add(v == null ? t : TensorValue.ofFloats(t.name(), v.toArray(), t.dims()));
        }
        return adapted.withGraph(adapted.graph().withInitializers(inits));
    }

    /**
     * Folds adapters into the weights: {@code W + (alpha/rank) down up} (transposed for {@code out x in} weights),
     * computed in double and rounded once to float32. The result is the base graph (no adapter nodes) with merged
     * weights, a plain ONNX model of the teacher's structure.
     *
     * @param adapters every adapter by name ({@link #adapterNames()})
     * @return the merged graph
     * @throws InvalidRequestException naming a missing adapter or one of the wrong shape
     */
    public OnnxModel merge(Map<String, Tensor> adapters) {
        requireAdapters(adapters);
        Map<String, Target> byWeight = new HashMap<>();
        targets.forEach(t -> byWeight.put(t.weight(), t));
        int r = config.rankValue();
        double scale = config.scale();
        List<TensorValue> inits = new ArrayList<>();
        for (TensorValue w : base.graph().initializers()) {
            Target t = byWeight.get(w.name());
            if (t == null) {
                inits.add(w);
                continue;
            }
            float[] a = adapters.get(t.down()).toArray();
            float[] b = adapters.get(t.up()).toArray();
            float[] merged = LoraMerge.merge(w.toFloats(), t.transposed(), a, b, Math.toIntExact(t.in()),
                    Math.toIntExact(t.out()), r, scale);
            inits.add(TensorValue.ofFloats(w.name(), merged, w.dims()));
        }
        return base.withGraph(base.graph().withInitializers(inits));
    }

    private void requireAdapters(Map<String, Tensor> adapters) {
        int r = config.rankValue();
        for (Target t : targets) {
            check(adapters, t.down(), new int[] {Math.toIntExact(t.in()), r});
            check(adapters, t.up(), new int[] {r, Math.toIntExact(t.out())});
        }
    }

    private static void check(Map<String, Tensor> adapters, String name, int[] shape) {
        Tensor v = adapters.get(name);
        if (v == null) {
            throw InvalidRequestException.of("lora adapter " + name, "a tensor of shape " + Arrays.toString(shape),
                    "none");
        }
        if (!Arrays.equals(v.shape(), shape)) {
            throw InvalidRequestException.of("lora adapter " + name, "shape " + Arrays.toString(shape),
                    Arrays.toString(v.shape()));
        }
    }

    @Override
    public String toString() {
        return "LoraGraph[" + targets.size() + " targets, " + adapterParameters() + " adapter parameters, " + config
                + "]";
    }
}
