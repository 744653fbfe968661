package io.senseflow.examples.distill;

import io.senseflow.examples.shapes.ShapesTokenizer;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.folders.SchedulerSpec;
import io.senseflow.onnx.folders.SenseFlowFolder;
import java.nio.file.Path;

/**
 * A tiny random teacher of the Shapes geometry for CI tests of the distillation plumbing: 32 x 32 images, 4 x 8 x 8
 * latents (autoencoder factor 4, scaling 1.5), a flow transformer of width 16 and depth 2 on 16 tokens, the Shapes
 * tokenizer with a one-layer text encoder; every parameter random ({@link Init#RANDOM_ALL}) so outputs are not
 * trivially zero. It draws noise, not shapes: the tests check plumbing, not quality.
 */
public final class TinyShapesTeacher {
    private TinyShapesTeacher() {
    }

    /** @return the transformer's architecture */
    public static FlowTransformer.Config transformer() {
        return FlowTransformer.Config.builder().latentChannels(4).latentSize(8, 8).patchSize(2).width(16).depth(2)
                .heads(2).textWidth(16).textLength(ShapesTokenizer.LENGTH).pooledWidth(16).mlpRatio(2).build();
    }

    /** @param dir destination @param seed weights seed @return {@code dir} */
    public static Path write(Path dir, long seed) {
        return write(dir, seed, 0);
    }

    /**
     * @param dir destination
     * @param seed weights seed
     * @param shiftFactor the autoencoder's latent shift (the bundled Shapes teacher's is -0.0398)
     * @return {@code dir}
     */
    public static Path write(Path dir, long seed, double shiftFactor) {
        TextTransformer.Config text = TextTransformer.Config.builder().vocab(ShapesTokenizer.vocabSize())
                .length(ShapesTokenizer.LENGTH).width(16).depth(1).heads(2).mlpRatio(2).build();
        Autoencoder.Config vae = Autoencoder.Config.builder().channels(8, 8, 8).groups(4).scalingFactor(1.5)
                .shiftFactor(shiftFactor).build();
        return SenseFlowFolder.builder().name("tiny-shapes-teacher")
                .transformer(FlowTransformer.build(transformer(), seed, Init.RANDOM_ALL))
                .textEncoder(TextTransformer.build(text, seed + 1, Init.RANDOM_ALL))
                .vaeDecoder(Autoencoder.build(vae, Autoencoder.Part.DECODER, seed + 2, Init.RANDOM_ALL))
                .vaeEncoder(Autoencoder.build(vae, Autoencoder.Part.ENCODER, seed + 2, Init.RANDOM_ALL))
                .tokenizer(ShapesTokenizer.json(), ShapesTokenizer.PAD)
                .scheduler(SchedulerSpec.flowMatchEuler(1))
                .provenance("made_by", "TinyShapesTeacher (test fixture)")
                .build().write(dir);
    }

    /**
     * Writes an untrained (randomly initialised) attribute classifier: a judge whose numbers mean nothing but whose
     * plumbing is real, for end-to-end tests of the evaluating commands.
     *
     * @param file the {@code .onnx} file to write
     * @return {@code file}
     */
    public static Path untrainedClassifier(Path file) {
        io.senseflow.examples.shapes.AttributeClassifier.build(9).write(file);
        return file;
    }
}
