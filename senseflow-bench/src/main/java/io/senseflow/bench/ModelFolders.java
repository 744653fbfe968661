package io.senseflow.bench;

import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.SchedulerSpec;
import io.senseflow.onnx.folders.SenseFlowFolder;
import io.senseflow.onnx.testing.FixtureTokenizer;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A teacher and a student model folder in the SDK's own layout (loadable with {@code Models.load}).
 *
 * @param name shown in tables
 * @param teacher a many-step folder: flow-match Euler (shift 3), classifier-free guidance
 * @param student a few-step folder: anchors 1, 0.9, 0.75, 0.5, no guidance
 * @param bundled whether these are the Shapes demo's trained models (otherwise random weights)
 */
public record ModelFolders(String name, Path teacher, Path student, boolean bundled) {
    /** Guidance scale of the random teacher folders (the SDK layout's default for CFG teachers). */
    public static final double TEACHER_GUIDANCE = 4.5;
    /** The student's anchors (the SD3.5 preset, which the Shapes student uses too). */
    static final double[] ANCHORS = {1, 0.9, 0.75, 0.5};

    /**
     * Writes (or reuses, when an earlier run wrote the same spec there) random-weight folders for a spec.
     *
     * @param spec the architectures
     * @param workDir where folders are kept between runs
     * @return the folders
     */
    public static ModelFolders random(ModelSpec spec, Path workDir) {
        Path base = workDir.resolve("models-" + spec.name() + "-" + Integer.toHexString(spec.key().hashCode()));
        Path teacher = base.resolve("teacher");
        Path student = base.resolve("student");
        Path done = base.resolve("complete");
        if (!Files.isRegularFile(done)) {
            OnnxModel transformer = FlowTransformer.build(spec.transformer(), 11, Init.RANDOM_ALL);
            OnnxModel text = TextTransformer.build(spec.text(), 12, Init.RANDOM_ALL);
            OnnxModel decoder = Autoencoder.build(spec.vae(), Autoencoder.Part.DECODER, 13, Init.RANDOM_ALL);
            String tokenizer = FixtureTokenizer.json(FixtureTokenizer.Style.CLIP);
            Autoencoder.Config vae = spec.vae();
            SenseFlowFolder.builder().name(spec.name() + "-teacher").transformer(transformer).textEncoder(text)
                    .vaeDecoder(decoder).tokenizer(tokenizer, "<|endoftext|>")
                    .scheduler(SchedulerSpec.flowMatchEuler(3.0)).guidance(GuidanceMode.CFG)
                    .defaults(new ModelDefaults(50, TEACHER_GUIDANCE, vae.imageWidth(), vae.imageHeight()))
                    .provenance("made_by", "io.senseflow.bench.ModelFolders (random weights)").build().write(teacher);
            SenseFlowFolder.builder().name(spec.name() + "-student").transformer(transformer).textEncoder(text)
                    .vaeDecoder(decoder).tokenizer(tokenizer, "<|endoftext|>")
                    .scheduler(SchedulerSpec.fewStep(ANCHORS)).guidance(GuidanceMode.NONE)
                    .provenance("made_by", "io.senseflow.bench.ModelFolders (random weights)").build().write(student);
            try {
                Files.writeString(done, spec.describe() + "\n", StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return new ModelFolders(spec.name() + " (random weights)", teacher, student, false);
    }
}
