package io.senseflow.tf.export;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.OnnxNode;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.ir.WriteOptions;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.ParameterStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Trained weights back out as a deployable ONNX model (DESIGN.md, "Models are ONNX graphs"): what was trained is
 * exactly what ONNX Runtime serves.
 *
 * <ul>
 *   <li>{@link #writeSafetensors}: the trained parameters under the original graph's initializer names, for the
 *       original graph file loaded with {@code WeightOverrides.fromSafetensors(...)} or a model folder's
 *       {@code LoadOptions.weights} (ONNX Runtime external initializers; the graph file is not touched);</li>
 *   <li>{@link #writeModel}: a self-contained model, the graph with its initializers replaced by the trained values,
 *       large ones in an external data file ({@code model.onnx_data});</li>
 *   <li>{@link #writeGraph} with {@link #writeSafetensorsForGraph}: the graph with untied parameters materialised
 *       and the weights under their own names, when untied copies were trained apart (see below).</li>
 * </ul>
 *
 * <p>Names: the TensorFlow importer unties parameters that PyTorch's exporter had deduplicated into
 * {@code Identity(initializer)} nodes, and names each after the Identity's output. Such a parameter has no initializer
 * in the source graph, so the export materialises it: the Identity node is removed and an initializer of that name
 * takes its place (in {@link #model()} with the trained value, in {@link #graph()} with the shared original value).
 * For graphs without such parameters {@link #graph()} is the source graph and the safetensors file applies to it
 * directly.
 *
 * <p>Types: trained values are float32; initializers of type FLOAT16, BFLOAT16 or DOUBLE are written in their own type
 * (rounded to nearest even). Parameters that were not trained (frozen) keep the graph's values.
 *
 * <p>Not thread-safe: export from the thread that owns the module's workspace.
 */
public final class OnnxExport {
    private final OnnxModel source;
    private final Map<String, Tensor> trained;
    private final Map<String, String> provenance;
    private final Map<String, String> untied;

    private OnnxExport(OnnxModel source, Map<String, Tensor> trained, Map<String, String> provenance) {
        this.source = source;
        this.trained = trained;
        this.provenance = provenance;
        this.untied = untiedOf(source, trained);
    }

    /**
     * @param source the graph the parameters were imported from
     * @param trained trained values by original parameter name (e.g. {@code module.parameters().snapshot()})
     * @return the export
     * @throws InvalidRequestException naming a parameter that is neither an initializer nor an untied parameter of the
     *     graph, or whose shape or type does not fit
     */
    public static OnnxExport of(OnnxModel source, Map<String, Tensor> trained) {
        return new OnnxExport(Objects.requireNonNull(source, "source"), new TreeMap<>(trained), Map.of());
    }

    /**
     * @param source the graph the parameters were imported from
     * @param parameters a trained module's parameters
     * @return the export of their current values
     */
    public static OnnxExport of(OnnxModel source, ParameterStore parameters) {
        return of(source, parameters.snapshot());
    }

    /**
     * @param values provenance recorded in the model's metadata ({@code senseflow.trained.<key>}) and the safetensors
     *     metadata ({@code <key>}): the training run's iteration, config, data description
     * @return a copy with these entries
     */
    public OnnxExport withProvenance(Map<String, String> values) {
        // sorted, so the written model and safetensors are the same bytes whatever map the caller passed (Map.of's
        // iteration order differs from one JVM to the next)
        Map<String, String> p = new TreeMap<>(provenance);
        p.putAll(values);
        return new OnnxExport(source, trained, java.util.Collections.unmodifiableMap(p));
    }

    private static Map<String, String> untiedOf(OnnxModel source, Map<String, Tensor> trained) {
        OnnxGraph g = source.graph();
        Map<String, OnnxNode> identities = new LinkedHashMap<>();
        for (OnnxNode n : g.nodes()) {
            if (n.opType().equals("Identity") && n.domain().isEmpty() && n.inputs().size() == 1 && n.outputs().size() == 1
                    && g.initializer(n.inputs().get(0)).isPresent()) {
                identities.put(n.outputs().get(0), n);
            }
        }
        Map<String, String> untied = new LinkedHashMap<>();
        List<String> unknown = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : trained.entrySet()) {
            String name = e.getKey();
            TensorValue init = g.initializer(name).orElse(null);
            if (init == null && identities.containsKey(name)) {
                untied.put(name, identities.get(name).inputs().get(0));
                init = g.initializer(untied.get(name)).orElseThrow();
            }
            if (init == null) {
                unknown.add(name);
                continue;
            }
            if (!init.dataType().isFloatingPoint()) {
                throw InvalidRequestException.of("trained parameter " + name, "a floating-point initializer of the graph",
                        init.dataType());
            }
            long[] want = init.dims();
            int[] got = e.getValue().shape();
            if (!Arrays.equals(want, Arrays.stream(got).asLongStream().toArray())) {
                throw InvalidRequestException.of("trained parameter " + name, "shape " + Arrays.toString(want)
                        + " (the graph's initializer)", Arrays.toString(got));
            }
        }
        if (!unknown.isEmpty()) {
            throw new InvalidRequestException("export: " + unknown.size() + " trained parameter(s) match no initializer"
                    + " (or untied Identity of one) of " + describe(source) + ": "
                    + (unknown.size() <= 5 ? unknown : unknown.subList(0, 5) + " ...")
                    + "; export against the graph the module was imported from");
        }
        return untied;
    }

    private static String describe(OnnxModel m) {
        return m.graph().name().isEmpty() ? "the graph" : "graph '" + m.graph().name() + "'";
    }

    /** @return the trained parameter names, sorted */
    public List<String> parameterNames() {
        return new ArrayList<>(trained.keySet());
    }

    /** @return the parameters that were untied from a shared initializer and get their own initializer */
    public Map<String, String> untiedParameters() {
        return Map.copyOf(untied);
    }

    /** @return the source graph with untied parameters materialised (original values): what the weights file fits */
    public OnnxModel graph() {
        return rewrite(false);
    }

    /** @return the source graph with every trained initializer replaced by its trained value */
    public OnnxModel model() {
        return rewrite(true);
    }

    private OnnxModel rewrite(boolean withTrained) {
        OnnxGraph g = source.graph();
        List<OnnxNode> nodes = new ArrayList<>();
        for (OnnxNode n : g.nodes()) {
            if (!(n.opType().equals("Identity") && n.outputs().size() == 1 && untied.containsKey(n.outputs().get(0)))) {
                nodes.add(n);
            }
        }
        List<TensorValue> inits = new ArrayList<>();
        for (TensorValue t : g.initializers()) {
            inits.add(withTrained && trained.containsKey(t.name()) ? TensorValue.of(t.name(), trained.get(t.name()),
                    t.dataType()) : t);
        }
        for (Map.Entry<String, String> u : untied.entrySet()) {
            TensorValue shared = g.initializer(u.getValue()).orElseThrow();
            inits.add(withTrained ? TensorValue.of(u.getKey(), trained.get(u.getKey()), shared.dataType())
                    : shared.withName(u.getKey()));
        }
        OnnxModel out = source.withGraph(g.withNodes(nodes).withInitializers(inits));
        if (withTrained) {
            Map<String, String> meta = new LinkedHashMap<>(source.metadata());
            meta.put("senseflow.trained.parameters", Integer.toString(trained.size()));
            provenance.forEach((k, v) -> meta.put("senseflow.trained." + k, v));
            out = out.withMetadata(meta);
        }
        return out;
    }

    /**
     * Writes the trained parameters (float32, provenance as metadata) atomically, for the <em>source</em> graph file
     * as it is: {@code WeightOverrides.fromSafetensors}, or {@code LoadOptions.weights(component, file)} over the
     * original model folder. Every tensor is named after an initializer of the source graph. Parameters that the
     * importer untied from one shared initializer are written back under that initializer's name (retied), which is
     * exact when every copy still holds the same value — always for students trained with tied parameters
     * ({@code StudentModules.Builder.tieSharedParameters(true)}).
     *
     * @param file the safetensors file
     * @throws InvalidRequestException when untied copies of one initializer were trained apart (the source graph has
     *     one value for them): the message names them and the routes that can hold them
     * @throws io.senseflow.CheckpointException if writing fails
     */
    public void writeSafetensors(Path file) {
        Map<String, Tensor> out = new TreeMap<>();
        Map<String, List<String>> groups = new TreeMap<>();
        untied.forEach((copy, src) -> groups.computeIfAbsent(src, k -> new ArrayList<>()).add(copy));
        List<String> apart = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : trained.entrySet()) {
            if (!untied.containsKey(e.getKey())) {
                out.put(e.getKey(), e.getValue());
            }
        }
        for (Map.Entry<String, List<String>> g : groups.entrySet()) {
            Tensor value = out.get(g.getKey());
            for (String copy : g.getValue()) {
                Tensor t = trained.get(copy);
                if (value == null) {
                    value = t;
                    out.put(g.getKey(), t);
                } else if (!Arrays.equals(value.toArray(), t.toArray())) {
                    apart.add(copy + " (a copy of " + g.getKey() + ")");
                }
            }
        }
        if (!apart.isEmpty()) {
            throw new InvalidRequestException("export: " + apart.size() + " parameter(s) that " + describe(source)
                    + " holds as Identity nodes of one shared initializer were trained to other values, so no weights"
                    + " file for the original graph can hold them: " + (apart.size() <= 4 ? apart : apart.subList(0, 4)
                    + " ...") + "; use writeModel (a self-contained model), or writeGraph with"
                    + " writeSafetensorsForGraph, or train with tied parameters"
                    + " (StudentModules.Builder.tieSharedParameters(true))");
        }
        write(file, out);
    }

    /**
     * Writes the trained parameters under their own names, untied ones included, for {@link #graph()} (written with
     * {@link #writeGraph}); for graphs without untied parameters this is the same file as {@link #writeSafetensors}.
     *
     * @param file the safetensors file
     * @throws io.senseflow.CheckpointException if writing fails
     */
    public void writeSafetensorsForGraph(Path file) {
        write(file, trained);
    }

    private void write(Path file, Map<String, Tensor> tensors) {
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
        provenance.forEach(w::metadata);
        tensors.forEach(w::add);
        w.write(file);
    }

    /**
     * Writes {@link #model()}: the self-contained deployable model, initializers of 1 KiB or more in the external data
     * file beside it ({@code <name>_data}, as ONNX tooling names it); both written atomically, data file first.
     *
     * @param file the {@code .onnx} file
     * @throws io.senseflow.CheckpointException if writing fails
     */
    public void writeModel(Path file) {
        model().write(file, WriteOptions.externalData(1024));
    }

    /**
     * Writes {@link #graph()} with the source's own weights, large ones as external data; only needed when
     * {@link #untiedParameters()} is not empty (otherwise the source file itself takes the safetensors file).
     *
     * @param file the {@code .onnx} file
     * @throws io.senseflow.CheckpointException if writing fails
     */
    public void writeGraph(Path file) {
        graph().write(file, WriteOptions.externalData(1024));
    }
}
