package io.senseflow.tf.run;

import io.senseflow.ModelLoadException;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import io.senseflow.onnx.folders.SchedulerSpec;
import io.senseflow.onnx.folders.SenseFlowFolder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.pipeline.GuidanceMode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A teacher folder in the SDK's own layout ({@code "family": "senseflow"}) as {@link DistillationRun} reads and
 * writes it: components with their {@code weights.safetensors} folded into the graph, and the student written back
 * in the same layout with the few-step scheduler.
 */
final class SenseFlowTeacher {
    /** A component's separate weights file in the SDK's layout. */
    static final String WEIGHTS = "weights.safetensors";

    private SenseFlowTeacher() {
    }

    /**
     * @param dir the teacher folder
     * @param name a component folder ({@code transformer}, {@code text_encoder}, ...)
     * @return its graph with the weights file (if any) in place of the initializers it names
     * @throws ModelLoadException naming the file that is missing or does not fit the graph
     */
    static OnnxModel component(Path dir, String name) {
        Path graph = dir.resolve(name).resolve("model.onnx");
        if (!Files.isRegularFile(graph)) {
            throw new ModelLoadException(graph + " is missing: expected the " + name + " graph of a model folder in the"
                    + " SDK's own layout");
        }
        OnnxModel model = OnnxModel.read(graph);
        Path weights = graph.resolveSibling(WEIGHTS);
        if (!Files.isRegularFile(weights)) {
            return model;
        }
        List<TensorValue> replaced = new ArrayList<>();
        try (SafetensorsFile st = SafetensorsFile.open(weights)) {
            for (String n : st.names()) {
                if (model.graph().initializer(n).isEmpty()) {
                    throw new ModelLoadException(weights + ": expected only initializers of " + graph + ", found '" + n
                            + "'");
                }
            }
            for (TensorValue t : model.graph().initializers()) {
                replaced.add(st.contains(t.name()) ? st.tensorValue(t.name()) : t);
            }
        }
        return model.withGraph(model.graph().withInitializers(replaced));
    }

    /**
     * Writes the student as a model folder in the SDK's layout next to the teacher's other components.
     *
     * @param teacher the teacher folder
     * @param transformer the student's transformer graph, trained weights in place
     * @param anchors the noise levels the student was distilled on (its few-step scheduler)
     * @param provenance short facts about the run (into {@code model_index.json})
     * @param dir the folder to write (must not exist)
     * @return {@code dir}
     */
    static Path writeStudent(Path teacher, OnnxModel transformer, double[] anchors, Map<String, String> provenance,
                             Path dir) {
        JsonObject index = json(teacher.resolve("model_index.json"));
        Path tokConfig = teacher.resolve("tokenizer/tokenizer_config.json");
        String pad = json(tokConfig).getString("pad_token", null);
        if (pad == null) {
            throw new ModelLoadException(tokConfig + ": expected a pad_token, found none");
        }
        SenseFlowFolder.Builder b = SenseFlowFolder.builder().name(index.getString("name", "model") + "-senseflow")
                .transformer(transformer).textEncoder(component(teacher, "text_encoder"))
                .vaeDecoder(component(teacher, "vae_decoder"))
                .tokenizer(text(teacher.resolve("tokenizer/tokenizer.json")), pad)
                .scheduler(SchedulerSpec.fewStep(anchors)).guidance(GuidanceMode.NONE);
        if (Files.isRegularFile(teacher.resolve("vae_encoder/model.onnx"))) {
            b.vaeEncoder(component(teacher, "vae_encoder"));
        }
        new TreeMap<>(provenance).forEach(b::provenance);
        return b.build().write(dir);
    }

    private static JsonObject json(Path file) {
        try {
            return Json.parseObject(text(file));
        } catch (RuntimeException e) {
            if (e instanceof ModelLoadException m) {
                throw m;
            }
            throw new ModelLoadException(file + ": expected a JSON object: " + e.getMessage(), e);
        }
    }

    private static String text(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ModelLoadException(file + ": cannot be read: " + e, e);
        }
    }
}
