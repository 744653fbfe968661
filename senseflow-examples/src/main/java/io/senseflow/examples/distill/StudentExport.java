package io.senseflow.examples.distill;

import io.senseflow.io.AtomicFiles;
import io.senseflow.json.Json;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.SchedulerSpec;
import io.senseflow.onnx.folders.SenseFlowFolder;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.tf.export.OnnxExport;
import io.senseflow.train.ParameterStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a distilled student as a deployable model in the SDK's own layout: the teacher's tokenizer, text encoder and
 * autoencoder unchanged, the flow transformer graph with the student's trained weights, and the few-step sampler on
 * the run's anchors without classifier-free guidance ({@code senseflow_checkpoint: true}). {@code generate} and
 * {@code Models.load} read it with no other files. A {@code provenance.json} says how it was made.
 */
public final class StudentExport {
    /** The provenance file written into the model folder. */
    public static final String PROVENANCE = "provenance.json";

    private StudentExport() {
    }

    /**
     * @param teacher the teacher the student was distilled from
     * @param studentGraph the graph G runs ({@code StudentModules.studentGraph()})
     * @param weights the trained weights
     * @param anchors the anchors the student was trained on
     * @param name the model's name
     * @param provenance how it was made (command, config, seed, iterations, wall time, machine, ...): short strings
     *     go into {@code model_index.json} as well
     * @param dir the destination folder (replaced atomically when it holds a SenseFlow model)
     * @return {@code dir}
     */
    public static Path write(TeacherFolder teacher, OnnxModel studentGraph, ParameterStore weights, double[] anchors,
                             String name, Map<String, Object> provenance, Path dir) {
        OnnxModel transformer = OnnxExport.of(studentGraph, weights).model();
        SenseFlowFolder.Builder b = SenseFlowFolder.builder().name(name).transformer(transformer)
                .textEncoder(teacher.textEncoder()).vaeDecoder(teacher.vaeDecoder()).vaeEncoder(teacher.vaeEncoder())
                .tokenizer(teacher.tokenizerJson(), teacher.padToken()).scheduler(SchedulerSpec.fewStep(anchors))
                .guidance(GuidanceMode.NONE);
        for (Map.Entry<String, Object> e : new TreeMap<>(provenance).entrySet()) {
            if (e.getValue() instanceof String || e.getValue() instanceof Number || e.getValue() instanceof Boolean) {
                b.provenance(e.getKey(), String.valueOf(e.getValue()));
            }
        }
        Path out = b.build().write(dir);
        writeProvenance(out, provenance);
        return out;
    }

    /**
     * (Re)writes a model folder's {@code provenance.json} atomically, e.g. with the metrics measured after export.
     *
     * @param modelDir the folder
     * @param provenance the content
     */
    public static void writeProvenance(Path modelDir, Map<String, Object> provenance) {
        AtomicFiles.write(modelDir.resolve(PROVENANCE), (Json.writePretty(new TreeMap<>(provenance)) + "\n")
                .getBytes(StandardCharsets.UTF_8));
    }
}
