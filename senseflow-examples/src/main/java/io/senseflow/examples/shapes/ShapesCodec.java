package io.senseflow.examples.shapes;

import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.runtime.OrtInputs;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.tensor.Tensor;
import java.util.Map;

/**
 * The Shapes autoencoder in ONNX Runtime, for training-time use: images to latents in the flow model's scale
 * ({@code (enc(x) - shift) * scaling}) and back ({@code dec(z / scaling + shift)}), in chunks. Owns its runtime and
 * sessions.
 */
public final class ShapesCodec implements io.senseflow.model.ImageEncoder, io.senseflow.model.ImageDecoder {
    private static final int CHUNK = 256;
    private final OrtRuntime ort;
    private final OrtModel encoder;
    private final OrtModel decoder;
    private final float scaling;
    private final float shift;

    private ShapesCodec(OnnxModel encoder, OnnxModel decoder, float scaling, float shift, int threads) {
        this.ort = OrtRuntime.create(SessionConfig.builder().intraOpThreads(threads).build());
        try {
            this.encoder = encoder == null ? null : ort.load(encoder, "vae_encoder", ort.defaultConfig());
            this.decoder = decoder == null ? null : ort.load(decoder, "vae_decoder", ort.defaultConfig());
        } catch (RuntimeException e) {
            ort.close();
            throw e;
        }
        this.scaling = scaling;
        this.shift = shift;
    }

    /**
     * @param encoder the encoder graph (or null)
     * @param decoder the decoder graph (or null)
     * @param threads ONNX Runtime intra-op threads (0: its choice)
     * @return the codec, scaling and shift from the graphs' configuration
     */
    public static ShapesCodec of(OnnxModel encoder, OnnxModel decoder, int threads) {
        Autoencoder.Config c = Autoencoder.Config.fromMetadata(encoder != null ? encoder : decoder);
        return new ShapesCodec(encoder, decoder, (float) c.scalingFactor(), (float) c.shiftFactor(), threads);
    }

    /** @param encoder an encoder graph @return a codec that gives the raw (unscaled) latents */
    static ShapesCodec rawEncoder(OnnxModel encoder) {
        return new ShapesCodec(encoder, null, 1f, 0f, 0);
    }

    /** @param images {@code [B, 3, H, W]} in [-1, 1] @return latents {@code (enc(x) - shift) * scaling} */
    @Override
    public Tensor encode(Tensor images) {
        Tensor raw = encodeRaw(images);
        if (scaling == 1f && shift == 0f) {
            return raw;
        }
        return raw.map(v -> (v - shift) * scaling);
    }

    /** @param images {@code [B, 3, H, W]} @return the encoder's raw output */
    Tensor encodeRaw(Tensor images) {
        return chunked(encoder, Autoencoder.SAMPLE, Autoencoder.LATENT, images);
    }

    /** @param latents latents in the flow model's scale @return images in [-1, 1] */
    @Override
    public Tensor decode(Tensor latents) {
        return chunked(decoder, Autoencoder.LATENT, Autoencoder.SAMPLE, latents.map(v -> v / scaling + shift));
    }

    private static Tensor chunked(OrtModel model, String in, String out, Tensor x) {
        if (model == null) {
            throw new IllegalStateException("this codec has no " + (in.equals(Autoencoder.SAMPLE) ? "encoder" : "decoder"));
        }
        if (x.batch() <= CHUNK) {
            return model.runSingle(OrtInputs.of(Map.of(in, x)), out);
        }
        java.util.List<Tensor> parts = new java.util.ArrayList<>();
        for (int i = 0; i < x.batch(); i += CHUNK) {
            parts.add(model.runSingle(OrtInputs.of(Map.of(in, x.sliceBatch(i, Math.min(x.batch(), i + CHUNK)))), out));
        }
        return Tensor.concatBatch(parts);
    }

    @Override
    public void close() {
        ort.close();
    }
}
