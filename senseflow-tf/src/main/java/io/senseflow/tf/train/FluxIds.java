package io.senseflow.tf.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.TensorValue;

/**
 * FLUX's position ids, as diffusers builds them, for binding a FLUX transformer's {@code img_ids} and {@code txt_ids}
 * inputs to constants at import ({@link StudentModules.Builder#fluxIds}): they depend only on the latent grid and the
 * text length, and with them known the rotary tables (NonZero, GatherND, Einsum over the ids) are evaluated at import.
 * {@code img_ids} row {@code r (W/2) + c} is {@code [0, r, c]} over the packed {@code (H/2) x (W/2)} grid (row-major);
 * {@code txt_ids} are zeros. Both int64, without a batch axis, as Optimum exports them.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class FluxIds {
    private FluxIds() {
    }

    /**
     * @param latentHeight latent rows (image height / 8), even
     * @param latentWidth latent columns, even
     * @return {@code img_ids}, int64 {@code [(H/2)(W/2), 3]}
     */
    public static TensorValue imageIds(int latentHeight, int latentWidth) {
        if (latentHeight < 2 || latentWidth < 2 || latentHeight % 2 != 0 || latentWidth % 2 != 0) {
            throw InvalidRequestException.of("FLUX latent size", "even sizes of at least 2 (the 2 x 2 packing)",
                    latentHeight + " x " + latentWidth);
        }
        int rows = latentHeight / 2;
        int cols = latentWidth / 2;
        long[] v = new long[rows * cols * 3];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int i = (r * cols + c) * 3;
                v[i + 1] = r;
                v[i + 2] = c;
            }
        }
        return TensorValue.ofLongs("img_ids", v, rows * cols, 3);
    }

    /**
     * @param length text tokens (T5 length)
     * @return {@code txt_ids}, int64 zeros {@code [length, 3]}
     */
    public static TensorValue textIds(int length) {
        if (length < 1) {
            throw InvalidRequestException.of("FLUX text length", "at least 1", length);
        }
        return TensorValue.ofLongs("txt_ids", new long[length * 3], length, 3);
    }
}
