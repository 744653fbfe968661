package io.senseflow.onnx.folders;

import io.senseflow.model.Conditioning;
import io.senseflow.model.EpsilonModel;
import io.senseflow.model.LatentFormat;
import io.senseflow.tensor.Tensor;
import java.util.Objects;

/**
 * SDXL's UNet with its size conditioning: each call adds the {@code time_ids} extra, one row per sample,
 * {@code [original height, original width, crop top, crop left, target height, target width]} =
 * {@code [H, W, 0, 0, H, W]} in pixels, with {@code H x W} read off the latents' shape times the VAE factor — what
 * diffusers uses when no sizes are passed (negative samples get the same row). A conditioning that already carries
 * {@code time_ids} is left as it is. Owns the wrapped model.
 *
 * <p>Thread-safe: it holds nothing but its ONNX Runtime session, which may run from several threads at once.
 */
public final class SdxlUnet implements EpsilonModel {
    /** The size-conditioning input of SDXL UNets. */
    public static final String TIME_IDS = "time_ids";

    private final EpsilonModel unet;

    /** @param unet the UNet (for example an {@link io.senseflow.onnx.runtime.OrtEpsilonModel}) */
    public SdxlUnet(EpsilonModel unet) {
        this.unet = Objects.requireNonNull(unet, "unet");
    }

    /**
     * @param batch samples
     * @param height image height in pixels
     * @param width image width in pixels
     * @return {@code [batch, 6]} rows {@code [height, width, 0, 0, height, width]}
     */
    public static Tensor timeIds(int batch, int height, int width) {
        float[] v = new float[batch * 6];
        for (int i = 0; i < batch; i++) {
            v[i * 6] = height;
            v[i * 6 + 1] = width;
            v[i * 6 + 4] = height;
            v[i * 6 + 5] = width;
        }
        return Tensor.wrap(v, batch, 6);
    }

    @Override
    public Tensor predictEpsilon(Tensor xt, float[] timesteps, Conditioning conditioning) {
        Conditioning c = conditioning;
        if (!c.extras().containsKey(TIME_IDS) && xt.rank() == 4) {
            int f = unet.latentFormat().downsample();
            c = c.withExtra(TIME_IDS, timeIds(xt.batch(), xt.dim(2) * f, xt.dim(3) * f));
        }
        return unet.predictEpsilon(xt, timesteps, c);
    }

    @Override
    public LatentFormat latentFormat() {
        return unet.latentFormat();
    }

    /** @return the wrapped UNet */
    public EpsilonModel unet() {
        return unet;
    }

    @Override
    public void close() {
        try {
            unet.close();
        } catch (Exception e) {
            throw new io.senseflow.BackendException("closing the UNet failed", e);
        }
    }
}
