package io.senseflow.bench;

import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.testing.FixtureTokenizer;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The architectures of one benchmark model set: a flow transformer (teacher and student share it), a text encoder and
 * an autoencoder, all in-house graphs ({@code io.senseflow.onnx.arch}) built with random weights. Random weights cost
 * the same to run as trained ones: every graph here is dense, with no data-dependent control flow.
 *
 * @param name a short name used in tables and folder names
 * @param transformer the flow transformer
 * @param text the text encoder (its vocabulary is the fixture tokenizer's)
 * @param vae the autoencoder (its latent grid matches the transformer's)
 */
public record ModelSpec(String name, FlowTransformer.Config transformer, TextTransformer.Config text, Autoencoder.Config vae) {
    /** Vocabulary of the word-level fixture tokenizer the random folders ship. */
    static final int VOCAB = FixtureTokenizer.Style.CLIP.vocabSize();

    /** Checks that the parts fit together. */
    public ModelSpec {
        Objects.requireNonNull(name, "name");
        if (transformer.latentHeight() != vae.latentHeight() || transformer.latentWidth() != vae.latentWidth()
                || transformer.latentChannels() != vae.latentChannels()) {
            throw new IllegalArgumentException(name + ": the autoencoder's latents (" + vae.latentChannels() + " x "
                    + vae.latentHeight() + " x " + vae.latentWidth() + ") differ from the transformer's");
        }
        if (transformer.textWidth() != text.width() || transformer.textLength() != text.length()
                || transformer.pooledWidth() != text.width()) {
            throw new IllegalArgumentException(name + ": the text encoder's tokens do not fit the transformer");
        }
    }

    /**
     * The size of the Shapes demo's default architectures (32 x 32 images, 4 x 8 x 8 latents, 16 image tokens,
     * transformer width 128, 4 blocks); a stand-in with random weights where the bundled models are not at hand.
     *
     * @return the spec
     */
    public static ModelSpec shapesSized() {
        FlowTransformer.Config t = FlowTransformer.Config.defaults();
        return new ModelSpec("shapes-sized", t, text(t.textWidth(), t.textLength(), 2, 4), Autoencoder.Config.defaults());
    }

    /**
     * The architectures of a model folder built from the in-house graphs (such as the bundled Shapes teacher), read
     * from the configuration each graph carries in its metadata; the benchmarks that train or time single steps build
     * them again with random weights, which cost the same to run.
     *
     * @param name a short name for tables
     * @param folder a SenseFlow folder with {@code transformer/}, {@code text_encoder/} and {@code vae_decoder/}
     * @return the spec
     * @throws io.senseflow.ModelLoadException if a graph is not an in-house one (no configuration in its metadata)
     */
    public static ModelSpec fromFolder(String name, Path folder) {
        FlowTransformer.Config t = FlowTransformer.Config.fromMetadata(OnnxModel.read(folder.resolve("transformer/model.onnx")));
        TextTransformer.Config text = TextTransformer.Config.fromMetadata(OnnxModel.read(folder.resolve("text_encoder/model.onnx")));
        Autoencoder.Config vae = Autoencoder.Config.fromMetadata(OnnxModel.read(folder.resolve("vae_decoder/model.onnx")));
        // the random folders ship the fixture tokenizer, so the vocabulary is its own; the other sizes are the folder's
        return new ModelSpec(name, t, text.toBuilder().vocab(VOCAB).build(), vae);
    }

    /**
     * The larger in-house configuration: 4 x 64 x 64 latents, patch 2 (1,024 image tokens), width 384, 8 blocks,
     * 6 heads, 32 text tokens of width 256; autoencoder for 3 x 256 x 256 images (factor 4).
     *
     * @return the spec
     */
    public static ModelSpec large() {
        return dit("large", 64, 384, 8, 6);
    }

    /**
     * A transformer of the large configuration's width and depth at another latent size (for scaling), with an
     * autoencoder to match.
     *
     * @param latentSide latent height and width (patch 2: {@code (side / 2)^2} image tokens)
     * @param width transformer width
     * @param depth transformer blocks
     * @param heads attention heads
     * @return the spec
     */
    public static ModelSpec dit(String name, int latentSide, int width, int depth, int heads) {
        FlowTransformer.Config t = FlowTransformer.Config.builder().latentChannels(4).latentSize(latentSide, latentSide)
                .patchSize(2).width(width).depth(depth).heads(heads).textWidth(256).textLength(32).pooledWidth(256)
                .mlpRatio(4).build();
        Autoencoder.Config vae = Autoencoder.Config.builder().imageSize(latentSide * 4, latentSide * 4).latentChannels(4)
                .channels(32, 64, 64).groups(8).build();
        return new ModelSpec(name, t, text(256, 32, 2, 4), vae);
    }

    /**
     * Tiny sizes for the harness's smoke run (4 x 4 x 4 latents, width 32, one block).
     *
     * @return the spec
     */
    public static ModelSpec tiny() {
        FlowTransformer.Config t = FlowTransformer.Config.builder().latentChannels(4).latentSize(4, 4).patchSize(2)
                .width(32).depth(1).heads(2).textWidth(32).textLength(8).pooledWidth(32).mlpRatio(2).build();
        Autoencoder.Config vae = Autoencoder.Config.builder().imageSize(16, 16).latentChannels(4).channels(8, 8, 8)
                .groups(4).build();
        return new ModelSpec("tiny", t, text(32, 8, 1, 2), vae);
    }

    private static TextTransformer.Config text(int width, int length, int depth, int heads) {
        return TextTransformer.Config.builder().vocab(VOCAB).length(length).width(width).depth(depth).heads(heads)
                .mlpRatio(4).build();
    }

    /** @return the transformer's image tokens per sample */
    public int imageTokens() {
        return transformer.imageTokens();
    }

    /** @return a one-line description for reports */
    public String describe() {
        FlowTransformer.Config t = transformer;
        return String.format("%s: latents %d x %d x %d, patch %d (%d image tokens), width %d, depth %d, %d heads, "
                        + "%d text tokens; %,d transformer parameters; images %d x %d", name, t.latentChannels(),
                t.latentHeight(), t.latentWidth(), t.patchSize(), t.imageTokens(), t.width(), t.depth(), t.heads(),
                t.textLength(), FlowTransformer.parameterCount(t), vae.imageWidth(), vae.imageHeight());
    }

    /** @return the spec's sizes as a list, for cache keys */
    List<Object> key() {
        return List.of(transformer.toJson(), text.toJson(), vae.toJson());
    }
}
