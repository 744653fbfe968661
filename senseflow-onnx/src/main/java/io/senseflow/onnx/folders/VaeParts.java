package io.senseflow.onnx.folders;

import io.senseflow.ModelLoadException;
import io.senseflow.json.JsonObject;
import io.senseflow.onnx.runtime.OrtImageDecoder;
import io.senseflow.onnx.runtime.OrtImageEncoder;
import io.senseflow.onnx.runtime.OrtModel;
import java.util.Optional;

/** The VAE decoder (required) and encoder (optional) of an Optimum folder, checked against the denoiser's latents. */
record VaeParts(OrtImageDecoder decoder, OrtImageEncoder encoder, int factor, float scaling, float shift) {

    /**
     * @param ctx the load
     * @param channels the latent channels the denoiser takes
     * @param denoiser the denoiser's name for messages
     * @param defaultScaling the family's scaling factor when {@code vae_decoder/config.json} gives none
     * @param defaultShift the family's shift factor when the config gives none
     */
    static VaeParts load(LayoutContext ctx, int channels, String denoiser, double defaultScaling, double defaultShift) {
        ModelFolder f = ctx.folder();
        Optional<JsonObject> config = f.json("vae_decoder/config.json");
        String cfgName = "vae_decoder/config.json";
        config.flatMap(c -> ModelFolder.integer(c, "latent_channels", cfgName)).ifPresent(c -> {
            if (c != channels) {
                throw new ModelLoadException(denoiser + " expects " + channels + " latent channels, got " + c
                        + " from " + cfgName + " (latent_channels)");
            }
        });
        int factor = ModelFolder.vaeFactor(config, cfgName);
        float scaling = (float) (double) config.flatMap(c -> ModelFolder.number(c, "scaling_factor", cfgName)).orElse(defaultScaling);
        float shift = (float) (double) config.flatMap(c -> ModelFolder.number(c, "shift_factor", cfgName)).orElse(defaultShift);

        OrtModel dec = ctx.load("vae_decoder", "the VAE decoder");
        if (dec.inputs().size() != 1) {
            throw new ModelLoadException(dec.name() + " has inputs " + dec.inputs().keySet() + "; a VAE decoder takes one "
                    + "latent input");
        }
        String in = dec.inputs().keySet().iterator().next();
        io.senseflow.onnx.runtime.TensorSpec latent = dec.input(in);
        if (latent.rank() != 4 || !latent.isFloatingPoint()) {
            throw new ModelLoadException(dec.name() + " takes '" + in + "' " + latent.elementType() + " " + latent.shape()
                    + "; a VAE decoder takes floating-point latents [batch, channels, height, width] (is another model in "
                    + "its place?)");
        }
        long decChannels = LayoutContext.inputDim(dec, in, 1);
        if (decChannels >= 0 && decChannels != channels) {
            dec.close();
            throw new ModelLoadException(denoiser + " expects " + channels + " latent channels, got " + decChannels
                    + " from " + dec.name() + " (input '" + in + "')");
        }
        OrtImageDecoder decoder = ctx.track(OrtImageDecoder.builder(dec).scalingFactor(scaling).shiftFactor(shift).build());
        OrtImageEncoder encoder = null;
        if (ctx.options().loadImageEncoder() && f.hasModel("vae_encoder")) {
            OrtModel enc = ctx.load("vae_encoder", "the VAE encoder");
            String out = enc.hasOutput("latent_parameters") ? "latent_parameters"
                    : enc.hasOutput("latent_sample") ? "latent_sample" : enc.outputs().keySet().iterator().next();
            long encChannels = enc.outputs().get(out).rank() > 1 ? enc.outputs().get(out).fixedDim(1) : -1;
            if (encChannels >= 0 && encChannels != channels && encChannels != 2L * channels) {
                enc.close();
                throw new ModelLoadException(enc.name() + " gives " + encChannels + " channels on '" + out + "', but "
                        + denoiser + " expects " + channels + " latent channels (or " + 2 * channels
                        + " for mean and log-variance)");
            }
            encoder = ctx.track(OrtImageEncoder.builder(enc).output(out).scalingFactor(scaling).shiftFactor(shift)
                    .latentChannels(channels).build());
        }
        return new VaeParts(decoder, encoder, factor, scaling, shift);
    }
}
