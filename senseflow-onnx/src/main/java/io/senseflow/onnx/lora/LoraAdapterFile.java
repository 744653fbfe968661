package io.senseflow.onnx.lora;

import io.senseflow.ModelLoadException;
import io.senseflow.SenseFlowException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * A LoRA adapter file, the "base + adapters" export of a LoRA distillation ({@code adapters.safetensors}, written by
 * {@code DistillationRun.exportAdapters}), read fully into memory and checked: for every adapted weight {@code W},
 * a float tensor {@code <W>.lora_down} ({@code in x rank}) and {@code <W>.lora_up} ({@code rank x out}), in the
 * graph's input-major layout (PEFT's {@code lora_A} and {@code lora_B} transposed); metadata {@code senseflow.lora}
 * (the LoRA settings as JSON, at least {@code rank} and {@code alpha}) and {@code senseflow.lora.scale}
 * ({@code alpha / rank}).
 *
 * <p>{@link #applyTo} folds the adapters into a model's weights ({@link LoraMerge#merge}, in double, rounded once to
 * float32): the result is the same graph with merged initializers, which any ONNX Runtime session runs as a plain
 * model.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class LoraAdapterFile {
    /** Suffix of the down projections. */
    public static final String DOWN = ".lora_down";
    /** Suffix of the up projections. */
    public static final String UP = ".lora_up";
    /** Metadata key of the LoRA settings (JSON). */
    public static final String CONFIG_KEY = "senseflow.lora";
    /** Metadata key of the scale {@code alpha / rank}. */
    public static final String SCALE_KEY = "senseflow.lora.scale";

    private static final Set<String> OP_TYPES = Set.of("MatMul", "Gemm");

    /** One adapter: the weight it belongs to and its two factors. */
    private record Adapter(String weight, float[] down, float[] up, int in, int out) {
    }

    private final Path file;
    private final int rank;
    private final double alpha;
    private final double scale;
    private final Map<String, Adapter> adapters;

    private LoraAdapterFile(Path file, int rank, double alpha, double scale, Map<String, Adapter> adapters) {
        this.file = file;
        this.rank = rank;
        this.alpha = alpha;
        this.scale = scale;
        this.adapters = adapters;
    }

    /**
     * Reads and checks an adapter file (header, metadata, names, shapes); the graph it is meant for is checked by
     * {@link #applyTo}.
     *
     * @param file the safetensors file
     * @return the adapters
     * @throws ModelLoadException naming the file when it is missing or not safetensors, lacks the metadata, holds a
     *     tensor that is not a {@code .lora_down}/{@code .lora_up} pair of float matrices of the metadata's rank, or
     *     no adapter at all
     */
    public static LoraAdapterFile read(Path file) {
        Objects.requireNonNull(file, "file");
        try (SafetensorsFile st = SafetensorsFile.open(file)) {
            Map<String, String> meta = st.metadata();
            String json = meta.get(CONFIG_KEY);
            String scaleText = meta.get(SCALE_KEY);
            if (json == null || scaleText == null) {
                throw fail(file, "expected LoRA metadata '" + CONFIG_KEY + "' and '" + SCALE_KEY + "' (as"
                        + " DistillationRun.exportAdapters writes them), found metadata keys " + new TreeMap<>(meta)
                        .keySet());
            }
            int rank;
            double alpha;
            double scale;
            try {
                JsonObject o = Json.parseObject(json);
                rank = o.getInt("rank");
                alpha = o.getDouble("alpha");
                scale = Double.parseDouble(scaleText);
            } catch (SenseFlowException | NumberFormatException e) {
                throw fail(file, "metadata '" + CONFIG_KEY + "' = " + json + ", '" + SCALE_KEY + "' = " + scaleText
                        + ": " + e.getMessage());
            }
            if (rank < 1 || !Double.isFinite(scale) || !Double.isFinite(alpha)
                    || Math.abs(scale - alpha / rank) > 1e-12 * Math.max(1, Math.abs(scale))) {
                throw fail(file, "expected a rank of at least 1 and a finite scale equal to alpha / rank, found rank "
                        + rank + ", alpha " + alpha + ", scale " + scaleText);
            }
            Map<String, Adapter> adapters = new TreeMap<>();
            for (String name : st.names()) {
                String weight = weightOf(name);
                if (weight == null) {
                    throw fail(file, "expected only '<weight>" + DOWN + "' and '<weight>" + UP + "' tensors, found '"
                            + name + "'");
                }
                if (adapters.containsKey(weight)) {
                    continue;
                }
                String down = weight + DOWN;
                String up = weight + UP;
                if (!st.contains(down) || !st.contains(up)) {
                    throw fail(file, "expected both '" + down + "' and '" + up + "', found only '" + name + "'");
                }
                long[] ds = st.shape(down);
                long[] us = st.shape(up);
                if (ds.length != 2 || us.length != 2 || ds[1] != rank || us[0] != rank || ds[0] < 1 || us[1] < 1
                        || !st.dtype(down).isFloatingPoint() || !st.dtype(up).isFloatingPoint()) {
                    throw fail(file, "expected '" + down + "' of shape [in, " + rank + "] and '" + up + "' of shape ["
                            + rank + ", out] (floating point, rank " + rank + " from the metadata), found "
                            + st.dtype(down) + Arrays.toString(ds) + " and " + st.dtype(up) + Arrays.toString(us));
                }
                adapters.put(weight, new Adapter(weight, st.floats(down), st.floats(up), Math.toIntExact(ds[0]),
                        Math.toIntExact(us[1])));
            }
            if (adapters.isEmpty()) {
                throw fail(file, "expected at least one adapter, found no tensors");
            }
            return new LoraAdapterFile(file, rank, alpha, scale, Collections.unmodifiableMap(adapters));
        }
    }

    private static String weightOf(String tensor) {
        for (String suffix : List.of(DOWN, UP)) {
            if (tensor.endsWith(suffix) && tensor.length() > suffix.length()) {
                return tensor.substring(0, tensor.length() - suffix.length());
            }
        }
        return null;
    }

    private static ModelLoadException fail(Path file, String what) {
        return new ModelLoadException("LoRA adapter file " + file + ": " + what);
    }

    /**
     * Folds the adapters into a model's weights. Every adapted weight must be a float32 matrix initializer of the
     * model's main graph, read only by MatMul (as input 1) or Gemm ({@code transA = 0}, input 1) nodes, directly or
     * through a 2-D {@code Transpose}, all in one orientation, with the adapter's {@code in} and {@code out} sizes.
     * Nothing else in the model changes.
     *
     * @param model the model the adapters were trained on (e.g. the teacher's denoiser)
     * @param modelName the model's name for messages (e.g. its file)
     * @return the model with merged weights
     * @throws ModelLoadException naming this file and the weight when the model has no such initializer (an adapter
     *     file for another model), the weight has other shapes, or is read by a node an adapter cannot be folded into
     */
    public OnnxModel applyTo(OnnxModel model, String modelName) {
        OnnxGraph g = model.graph();
        Map<String, List<OnnxNode>> readers = new HashMap<>();
        for (OnnxNode n : g.nodes()) {
            for (String i : new LinkedHashSet<>(n.inputs())) {
                readers.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
            }
        }
        Map<String, float[]> merged = new HashMap<>();
        for (Adapter a : adapters.values()) {
            TensorValue w = g.initializer(a.weight()).orElseThrow(() -> fail(file, "adapts weight '" + a.weight()
                    + "', which " + modelName + " does not have (an adapter file for another model?)"));
            if (w.dataType() != DataType.FLOAT || w.dims().length != 2) {
                throw fail(file, "adapts weight '" + a.weight() + "'; expected a float32 matrix in " + modelName
                        + ", found " + w.dataType() + Arrays.toString(w.dims()));
            }
            boolean transposed = orientation(a.weight(), readers, modelName);
            long[] want = transposed ? new long[] {a.out(), a.in()} : new long[] {a.in(), a.out()};
            if (!Arrays.equals(w.dims(), want)) {
                throw fail(file, "adapter of '" + a.weight() + "' is " + a.in() + " -> " + a.out() + " (expected the"
                        + " weight stored as " + Arrays.toString(want) + "), but " + modelName + " stores it as "
                        + Arrays.toString(w.dims()) + " (an adapter file for another model?)");
            }
            merged.put(a.weight(), LoraMerge.merge(w.toFloats(), transposed, a.down(), a.up(), a.in(), a.out(), rank,
                    scale));
        }
        List<TensorValue> inits = new ArrayList<>(g.initializers().size());
        for (TensorValue t : g.initializers()) {
            float[] m = merged.get(t.name());
            inits.add(m == null ? t : TensorValue.ofFloats(t.name(), m, t.dims()));
        }
        return model.withGraph(g.withInitializers(inits));
    }

    /** @return whether the weight is stored out x in, after checking every reader can take the fold */
    private boolean orientation(String weight, Map<String, List<OnnxNode>> readers, String modelName) {
        Boolean transposed = null;
        List<OnnxNode> direct = readers.getOrDefault(weight, List.of());
        if (direct.isEmpty()) {
            throw fail(file, "adapts weight '" + weight + "', which no node of " + modelName + " reads");
        }
        for (OnnxNode r : direct) {
            boolean through = LoraMerge.isTranspose2d(r);
            String read = through ? r.outputs().get(0) : weight;
            List<OnnxNode> users = through ? readers.getOrDefault(read, List.of()) : List.of(r);
            if (users.isEmpty()) {
                throw fail(file, "adapts weight '" + weight + "', read in " + modelName + " through Transpose '"
                        + r.name() + "', whose output no node reads");
            }
            for (OnnxNode u : users) {
                Boolean t = LoraMerge.orientation(u, read, OP_TYPES);
                if (t == null) {
                    throw fail(file, "adapts weight '" + weight + "', but " + modelName + " reads it in " + u.opType()
                            + " node '" + u.name() + "', which is not a MatMul/Gemm weight input an adapter folds into");
                }
                boolean stored = through != t;
                if (transposed != null && transposed != stored) {
                    throw fail(file, "adapts weight '" + weight + "', which " + modelName + " reads in two"
                            + " orientations (node '" + u.name() + "')");
                }
                transposed = stored;
            }
        }
        return transposed;
    }

    /** @return the file */
    public Path file() {
        return file;
    }

    /** @return the adapters' rank */
    public int rank() {
        return rank;
    }

    /** @return the LoRA alpha */
    public double alpha() {
        return alpha;
    }

    /** @return {@code alpha / rank}, the factor of {@code down up} */
    public double scale() {
        return scale;
    }

    /** @return the adapted weights' names, sorted */
    public Set<String> weights() {
        return adapters.keySet();
    }

    @Override
    public String toString() {
        return "LoraAdapterFile[" + file + ", " + adapters.size() + " weights, rank " + rank + ", alpha " + alpha + "]";
    }
}
