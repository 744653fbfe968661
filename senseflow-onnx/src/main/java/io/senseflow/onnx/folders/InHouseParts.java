package io.senseflow.onnx.folders;

import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.TextTransformer;
import java.util.function.Function;

/**
 * The configurations of an in-house model's graphs, read from their metadata, and the checks that they fit together.
 *
 * @param transformer the flow transformer's configuration
 * @param text the text encoder's configuration
 * @param vae the autoencoder's configuration
 */
record InHouseParts(FlowTransformer.Config transformer, TextTransformer.Config text, Autoencoder.Config vae) {

    /**
     * @param fail turns a message into the exception to throw (loading: {@code ModelLoadException}; writing:
     *     {@code InvalidRequestException})
     */
    void check(Function<String, RuntimeException> fail) {
        String t = "transformer/model.onnx";
        if (transformer.latentChannels() != vae.latentChannels()) {
            throw fail.apply(t + " expects " + transformer.latentChannels() + " latent channels, got " + vae.latentChannels()
                    + " from vae_decoder/model.onnx");
        }
        if (transformer.latentHeight() != vae.latentHeight() || transformer.latentWidth() != vae.latentWidth()) {
            throw fail.apply(t + " expects " + transformer.latentWidth() + " x " + transformer.latentHeight() + " latents, but "
                    + "vae_decoder/model.onnx makes " + vae.latentWidth() + " x " + vae.latentHeight() + " latents ("
                    + vae.imageWidth() + " x " + vae.imageHeight() + " images)");
        }
        if (transformer.textWidth() != text.width()) {
            throw fail.apply(t + " expects text tokens of width " + transformer.textWidth() + ", got " + text.width()
                    + " from text_encoder/model.onnx");
        }
        if (transformer.textLength() != text.length()) {
            throw fail.apply(t + " expects " + transformer.textLength() + " text tokens, got " + text.length()
                    + " from text_encoder/model.onnx");
        }
        if (transformer.pooledWidth() != text.width()) {
            throw fail.apply(t + " expects a pooled embedding of width " + transformer.pooledWidth() + ", got "
                    + text.width() + " from text_encoder/model.onnx (pooler_output)");
        }
    }
}
