package io.senseflow.tf.lora;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.lora.LoraAdapterFile;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.tensor.Tensor;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Adapters on disk: a safetensors file with {@code <weight>.lora_down} ({@code in x rank}) and
 * {@code <weight>.lora_up} ({@code rank x out}) for every target of a {@link LoraGraph}, float32, and metadata
 * {@code senseflow.lora} (the {@link LoraConfig} as JSON) and {@code senseflow.lora.scale}. The layout is the
 * graph's own (input-major, as ONNX MatMul weights are stored), not PEFT's {@code lora_A}/{@code lora_B}
 * ({@code rank x in}, {@code out x rank}): {@code down} is {@code lora_A} transposed, {@code up} is {@code lora_B}
 * transposed.
 *
 * <p>{@link LoraAdapterFile} reads the file back on the sampling side ({@code LoadOptions.Builder.adapters}).
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class LoraAdapters {
    private LoraAdapters() {
    }

    /**
     * @param file the safetensors file (written atomically, deterministic bytes)
     * @param graph the adapted graph the values belong to
     * @param adapters every adapter by name (more entries are refused)
     * @param provenance more metadata entries
     * @throws InvalidRequestException naming a missing, extra or misshapen adapter
     */
    public static void write(Path file, LoraGraph graph, Map<String, Tensor> adapters, Map<String, String> provenance) {
        graph.withAdapters(adapters); // checks every adapter's presence and shape
        for (String k : adapters.keySet()) {
            if (!graph.adapterNames().contains(k)) {
                throw InvalidRequestException.of("lora adapters", "only the adapters of the graph's "
                        + graph.targets().size() + " targets", k);
            }
        }
        SafetensorsWriter w = new SafetensorsWriter();
        new TreeMap<>(adapters).forEach(w::add);
        w.metadata(LoraAdapterFile.CONFIG_KEY, graph.config().toJson());
        w.metadata(LoraAdapterFile.SCALE_KEY, Double.toString(graph.config().scale()));
        new TreeMap<>(provenance).forEach(w::metadata);
        w.write(file);
    }
}
