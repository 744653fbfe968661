package io.senseflow.onnx.runtime;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A FLUX.1 transformer running in ONNX Runtime, seen from outside as an ordinary {@link Generator} on
 * {@code [B, C, H, W]} latents. Inside, each call:
 * <ul>
 *   <li>packs every 2 x 2 patch of latent cells into one token: {@code [B, C, H, W]} becomes
 *       {@code [B, (H/2)(W/2), 4C]}, token {@code n = i (W/2) + j} holding feature {@code c * 4 + dy * 2 + dx} from cell
 *       {@code (c, 2i + dy, 2j + dx)} (diffusers' packing);</li>
 *   <li>feeds {@code img_ids} (row {@code n} is {@code [0, i, j]}) and {@code txt_ids} (zeros, one row per text token),
 *       as {@code [tokens, 3]} or, for older exports that declare a batch axis, {@code [B, tokens, 3]};</li>
 *   <li>feeds the timestep as {@code s} (the FLUX graph multiplies by 1000 itself) and a {@code guidance} conditioning
 *       extra, when present, to the input of that name (FLUX.1-dev's embedded guidance);</li>
 *   <li>unpacks the prediction back to {@code [B, C, H, W]}.</li>
 * </ul>
 *
 * <p>Thread-safe. Owns the model: closing the generator closes it.
 */
public final class OrtFluxGenerator implements Generator {
    /** The image position ids input. */
    public static final String IMG_IDS = "img_ids";
    /** The text position ids input. */
    public static final String TXT_IDS = "txt_ids";
    /** The embedded guidance input of guidance-distilled models (FLUX.1-dev). */
    public static final String GUIDANCE = "guidance";

    private final DenoiserRunner runner;
    private final LatentFormat format;
    private final Parameterization parameterization;
    private final boolean batchedIds;

    private OrtFluxGenerator(DenoiserRunner runner, LatentFormat format, Parameterization parameterization, boolean batchedIds) {
        this.runner = runner;
        this.format = format;
        this.parameterization = parameterization;
        this.batchedIds = batchedIds;
    }

    /**
     * @param model the loaded transformer (owned from now on)
     * @param binding the input names, usually {@link DenoiserBinding#flux()}; its channel axis is set to 2 here
     * @param parameterization what the model predicts (FLUX: {@link Parameterization#VELOCITY})
     * @param latentFormat the unpacked latent geometry, patch size 2 (FLUX: 16 channels, VAE factor 8)
     * @return the generator
     * @throws ModelLoadException naming the model when it lacks {@code img_ids}/{@code txt_ids} or a bound input, or
     *     its declared features are not {@code 4 C}
     */
    public static OrtFluxGenerator create(OrtModel model, DenoiserBinding binding, Parameterization parameterization,
                                          LatentFormat latentFormat) {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(binding, "binding");
        Objects.requireNonNull(latentFormat, "latentFormat");
        if (latentFormat.patchSize() != 2) {
            throw InvalidRequestException.of("latentFormat.patchSize", "2 (FLUX packs 2 x 2 latent cells per token)",
                    latentFormat.patchSize());
        }
        boolean batched = false;
        for (String ids : new String[] {IMG_IDS, TXT_IDS}) {
            if (!model.hasInput(ids)) {
                throw new ModelLoadException(model.name() + " has no input '" + ids + "'; a FLUX transformer takes "
                        + "hidden_states, encoder_hidden_states, pooled_projections, timestep, img_ids and txt_ids; its inputs are "
                        + model.inputs().keySet());
            }
            int rank = model.input(ids).rank();
            if (rank != 2 && rank != 3) {
                throw new ModelLoadException(model.name() + ": input '" + ids + "' expects rank 2 [tokens, 3] or rank 3 "
                        + "[batch, tokens, 3], got rank " + rank + " " + model.input(ids).shape());
            }
            batched |= rank == 3;
        }
        TensorSpec state = model.input(binding.sample());
        if (state.rank() != 3) {
            throw new ModelLoadException(model.name() + ": input '" + binding.sample() + "' expects rank " + state.rank() + " "
                    + state.shape() + "; a FLUX transformer takes packed latents [batch, tokens, 4 C] (rank 3)");
        }
        LatentFormat packed = new LatentFormat(4 * latentFormat.channels(), latentFormat.downsample(), 1);
        DenoiserRunner runner = new DenoiserRunner(model, binding.toBuilder().channelAxis(2).build(), packed);
        return new OrtFluxGenerator(runner, latentFormat,
                Objects.requireNonNull(parameterization, "parameterization"), batched);
    }

    @Override
    public Tensor predict(Tensor x, float[] sigmas, Conditioning conditioning) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(conditioning, "conditioning");
        if (x.rank() != 4 || x.dim(1) != format.channels()) {
            throw new InvalidRequestException(runner.model().name() + " expects latents [batch, " + format.channels()
                    + ", h, w], got " + Arrays.toString(x.shape()));
        }
        int h = x.dim(2);
        int w = x.dim(3);
        if (h % 2 != 0 || w % 2 != 0) {
            throw new InvalidRequestException(runner.model().name() + " packs 2 x 2 latent cells per token; latent height "
                    + "and width must be even, got " + h + " x " + w);
        }
        int textTokens = conditioning.tokens().dim(1);
        Tensor imgIds = imageIds(h, w);
        Tensor txtIds = Tensor.zeros(textTokens, 3);
        Map<String, Tensor> perCall = new LinkedHashMap<>();
        Conditioning c = conditioning;
        if (batchedIds) {
            int b = x.batch();
            c = c.withExtra(IMG_IDS, imgIds.reshape(1, imgIds.dim(0), 3).repeatEach(b))
                    .withExtra(TXT_IDS, txtIds.reshape(1, textTokens, 3).repeatEach(b));
        } else {
            perCall.put(IMG_IDS, imgIds);
            perCall.put(TXT_IDS, txtIds);
        }
        Tensor out = runner.run(pack(x), sigmas, c, perCall);
        return unpack(out, format.channels(), h, w);
    }

    /**
     * @param x latents {@code [B, C, H, W]}, H and W even
     * @return the packed tokens {@code [B, (H/2)(W/2), 4C]}
     */
    public static Tensor pack(Tensor x) {
        int b = x.dim(0);
        int c = x.dim(1);
        int h = x.dim(2);
        int w = x.dim(3);
        int gh = h / 2;
        int gw = w / 2;
        float[] src = x.toArray();
        float[] out = new float[src.length];
        int features = 4 * c;
        for (int n = 0; n < b; n++) {
            for (int ch = 0; ch < c; ch++) {
                for (int y = 0; y < h; y++) {
                    for (int xx = 0; xx < w; xx++) {
                        int token = (y / 2) * gw + xx / 2;
                        int feature = ch * 4 + (y % 2) * 2 + xx % 2;
                        out[(n * gh * gw + token) * features + feature] = src[((n * c + ch) * h + y) * w + xx];
                    }
                }
            }
        }
        return Tensor.wrap(out, b, gh * gw, features);
    }

    /**
     * The inverse of {@link #pack}.
     *
     * @param tokens {@code [B, (H/2)(W/2), 4C]}
     * @param channels C
     * @param h latent height H
     * @param w latent width W
     * @return the latents {@code [B, C, H, W]}
     */
    public static Tensor unpack(Tensor tokens, int channels, int h, int w) {
        int b = tokens.dim(0);
        int gw = w / 2;
        int features = 4 * channels;
        if (tokens.rank() != 3 || tokens.dim(1) != (h / 2) * gw || tokens.dim(2) != features) {
            throw new InvalidRequestException("packed tokens: expected [" + b + ", " + (h / 2) * gw + ", " + features
                    + "], got " + Arrays.toString(tokens.shape()));
        }
        float[] src = tokens.toArray();
        float[] out = new float[src.length];
        for (int n = 0; n < b; n++) {
            for (int ch = 0; ch < channels; ch++) {
                for (int y = 0; y < h; y++) {
                    for (int xx = 0; xx < w; xx++) {
                        int token = (y / 2) * gw + xx / 2;
                        int feature = ch * 4 + (y % 2) * 2 + xx % 2;
                        out[((n * channels + ch) * h + y) * w + xx] = src[(n * (h / 2) * gw + token) * features + feature];
                    }
                }
            }
        }
        return Tensor.wrap(out, b, channels, h, w);
    }

    /**
     * @param h latent height
     * @param w latent width
     * @return {@code [(H/2)(W/2), 3]}: row {@code i (W/2) + j} is {@code [0, i, j]}
     */
    public static Tensor imageIds(int h, int w) {
        int gh = h / 2;
        int gw = w / 2;
        float[] ids = new float[gh * gw * 3];
        for (int i = 0; i < gh; i++) {
            for (int j = 0; j < gw; j++) {
                int row = (i * gw + j) * 3;
                ids[row + 1] = i;
                ids[row + 2] = j;
            }
        }
        return Tensor.wrap(ids, gh * gw, 3);
    }

    @Override
    public Parameterization parameterization() {
        return parameterization;
    }

    /** @return the unpacked latent geometry */
    @Override
    public LatentFormat latentFormat() {
        return format;
    }

    /** @return whether the model takes a {@code guidance} input (FLUX.1-dev: yes; FLUX.1-schnell: no) */
    public boolean takesGuidance() {
        return runner.model().hasInput(GUIDANCE);
    }

    /** @return the underlying model */
    public OrtModel model() {
        return runner.model();
    }

    /** Closes the model; closing twice does nothing. */
    @Override
    public void close() {
        runner.model().close();
    }

    @Override
    public String toString() {
        return "OrtFluxGenerator{" + runner.model().name() + ", " + parameterization + "}";
    }
}
