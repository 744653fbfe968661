package io.senseflow.onnx.arch;

/**
 * Fixed sinusoidal tables, computed with {@link StrictMath} so a model's bytes do not depend on the JVM's
 * intrinsics.
 */
final class SinCos {
    private SinCos() {
    }

    /**
     * The frequencies of the usual timestep embedding: {@code exp(-ln(10000) i / half)}, {@code i = 0..half-1}
     * (diffusers' {@code Timesteps} with {@code downscale_freq_shift = 0}).
     */
    static float[] timestepFrequencies(int half) {
        float[] f = new float[half];
        for (int i = 0; i < half; i++) {
            f[i] = (float) StrictMath.exp(-StrictMath.log(10000.0) * i / half);
        }
        return f;
    }

    /**
     * The 2-D sin-cos position table {@code [rows * cols, width]} of a patch grid (token {@code n = row * cols +
     * col}): the first half of each row encodes the column, the second half the row, each as {@code width / 4}
     * sines followed by as many cosines of {@code pos / 10000^(i / (width / 4))}, as in MAE, DiT and SD3.
     *
     * @param width the embedding width, a multiple of 4
     */
    static float[] positions2d(int width, int rows, int cols) {
        int quarter = width / 4;
        float[] table = new float[rows * cols * width];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int base = (r * cols + c) * width;
                oneAxis(table, base, quarter, c);
                oneAxis(table, base + 2 * quarter, quarter, r);
            }
        }
        return table;
    }

    private static void oneAxis(float[] out, int base, int quarter, int pos) {
        for (int i = 0; i < quarter; i++) {
            double omega = 1.0 / StrictMath.pow(10000.0, (double) i / quarter);
            double angle = pos * omega;
            out[base + i] = (float) StrictMath.sin(angle);
            out[base + quarter + i] = (float) StrictMath.cos(angle);
        }
    }
}
