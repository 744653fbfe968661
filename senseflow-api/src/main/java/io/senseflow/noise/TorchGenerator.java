package io.senseflow.noise;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.Arrays;

/**
 * Standard-normal noise that follows PyTorch's CPU generator: {@code new TorchGenerator(seed).randn(shape)} gives the
 * values of {@code torch.randn(shape, generator=torch.Generator("cpu").manual_seed(seed), dtype=torch.float32)}, and
 * successive calls continue the generator as successive {@code torch.randn} calls on one generator do. This is what
 * diffusers pipelines draw their initial latents from, so a seed gives the same starting noise as in Python.
 *
 * <p>The convention (learned from PyTorch's CPU kernels, docs/models.md "Torch-compatible noise"):
 * <ul>
 *   <li>the bits come from a 32-bit Mersenne Twister seeded with the seed's low 32 bits;</li>
 *   <li>a float32 tensor of at least 16 elements takes one 32-bit draw per element as a uniform
 *       {@code (bits & 0xffffff) / 2^24}, then turns each block of 16 uniforms {@code u[0..15]} into normals with
 *       Box-Muller, {@code r = sqrt(-2 ln(1 - u[j]))}, {@code theta = 2 pi u[j + 8]}, {@code out[j] = r cos theta},
 *       {@code out[j + 8] = r sin theta} for {@code j < 8}, in float32. When the size is not a multiple of 16, the
 *       last 16 elements are drawn again (16 fresh uniforms overwrite them) and transformed as one more block;</li>
 *   <li>a tensor of fewer than 16 elements takes each value from a double-precision Box-Muller pair on two 53-bit
 *       uniforms (two 32-bit draws each, high word first), {@code r = sqrt(-2 ln(1 - u2))},
 *       {@code theta = 2 pi u1}; the cosine branch is returned and the sine branch is kept for the next such value,
 *       across calls, as torch's generator keeps it.</li>
 * </ul>
 *
 * <p>Precision: the 16-element blocks are evaluated by one of two {@link Kernel}s. {@link Kernel#X86} (the default)
 * repeats the arithmetic of torch's x86 kernel (AVX2 and AVX-512 builds alike: single-precision Cephes approximations
 * of log, sin and cos with the fused multiply-adds the compiled code uses) and gives torch's bits (tested on 8,092
 * values of 16 draws: none differs). {@link Kernel#SCALAR} is torch's portable kernel (CPUs
 * without AVX2, {@code ATEN_CPU_CAPABILITY=default}) with correctly rounded functions, within 2 units in the last place
 * of torch's glibc-based values. The small-tensor path is exact in both.
 *
 * <p>Not thread-safe: a generator is a state machine, like torch's. Use one per request.
 */
public final class TorchGenerator {
    private static final double TWO_PI = 2.0 * Math.PI;
    private static final float UNIT_24 = 0x1p-24f;
    private static final double UNIT_53 = 0x1p-53;
    private static final long MASK_53 = (1L << 53) - 1;

    /** Which of torch's float32 normal kernels the 16-element blocks follow. */
    public enum Kernel {
        /** torch's x86 kernel (AVX2/AVX-512 CPUs, what diffusers users on x86 get): bit for bit. */
        X86,
        /** torch's portable kernel (other CPUs), with correctly rounded log, sin and cos: within 2 ulps. */
        SCALAR
    }

    private final long seed;
    private final Kernel kernel;
    private final Mt19937 engine;
    private final float[] sinCos = new float[2];
    private boolean hasCachedNormal;
    private double cachedNormal;

    /** @param seed the seed, as given to {@code torch.Generator("cpu").manual_seed(seed)}; {@link Kernel#X86} */
    public TorchGenerator(long seed) {
        this(seed, Kernel.X86);
    }

    /**
     * @param seed the seed, as given to {@code torch.Generator("cpu").manual_seed(seed)}
     * @param kernel which of torch's float32 kernels to follow
     */
    public TorchGenerator(long seed, Kernel kernel) {
        this.seed = seed;
        this.kernel = java.util.Objects.requireNonNull(kernel, "kernel");
        this.engine = new Mt19937(seed);
    }

    /** @return the kernel the 16-element blocks follow */
    public Kernel kernel() {
        return kernel;
    }

    /** @return the seed this generator started from */
    public long seed() {
        return seed;
    }

    /**
     * Draws a float32 tensor of standard normals, as {@code torch.randn(shape, generator=this)} would.
     *
     * @param shape the shape, every dimension at least 1
     * @return the noise
     */
    public Tensor randn(int... shape) {
        long total = 1;
        for (int d : shape) {
            if (d < 1) {
                throw InvalidRequestException.of("noise shape", "positive dimensions", Arrays.toString(shape));
            }
            total *= d;
        }
        if (total > Integer.MAX_VALUE - 8) {
            throw InvalidRequestException.of("noise shape", "fewer than 2^31 elements", Arrays.toString(shape));
        }
        float[] out = new float[(int) total];
        fill(out);
        return Tensor.wrap(out, shape.clone());
    }

    /**
     * Fills {@code out} with standard normals, as {@code torch.randn(out.length, generator=this)} would.
     *
     * @param out destination, its whole length is one draw
     */
    public void fill(float[] out) {
        int n = out.length;
        if (n >= 16) {
            for (int i = 0; i < n; i++) {
                out[i] = uniform24();
            }
            for (int i = 0; i + 16 <= n; i += 16) {
                boxMuller16(out, i);
            }
            if (n % 16 != 0) {
                int tail = n - 16;
                for (int i = 0; i < 16; i++) {
                    out[tail + i] = uniform24();
                }
                boxMuller16(out, tail);
            }
        } else {
            for (int i = 0; i < n; i++) {
                out[i] = (float) nextDoubleNormal();
            }
        }
    }

    /** torch's {@code uniform_real_distribution<float>(0, 1)}: 24 bits, exact in float. */
    private float uniform24() {
        return (engine.next() & 0xffffff) * UNIT_24;
    }

    /** torch's {@code uniform_real_distribution<double>(0, 1)}: 53 bits of one 64-bit draw (high word first). */
    private double uniform53() {
        long hi = engine.next() & 0xffffffffL;
        long lo = engine.next() & 0xffffffffL;
        return ((hi << 32 | lo) & MASK_53) * UNIT_53;
    }

    /** torch's {@code normal_distribution<double>}: Box-Muller with the sine branch cached for the next call. */
    private double nextDoubleNormal() {
        if (hasCachedNormal) {
            hasCachedNormal = false;
            return cachedNormal;
        }
        double u1 = uniform53();
        double u2 = uniform53();
        double r = Math.sqrt(-2.0 * StrictMath.log1p(-u2));
        double theta = TWO_PI * u1;
        cachedNormal = r * StrictMath.sin(theta);
        hasCachedNormal = true;
        return r * StrictMath.cos(theta);
    }

    /** Box-Muller on 16 uniforms in place, in float32. */
    private void boxMuller16(float[] d, int off) {
        if (kernel == Kernel.X86) {
            float twoPi = (float) TWO_PI;
            for (int j = 0; j < 8; j++) {
                float radius = (float) Math.sqrt(-2f * VectorMath.log(1f - d[off + j]));
                VectorMath.sinCos(twoPi * d[off + j + 8], sinCos);
                d[off + j] = radius * sinCos[1];
                d[off + j + 8] = radius * sinCos[0];
            }
            return;
        }
        for (int j = 0; j < 8; j++) {
            float u1 = 1f - d[off + j];
            float u2 = d[off + j + 8];
            float log = (float) StrictMath.log(u1);
            float radius = (float) Math.sqrt(-2f * log);
            float theta = (float) (TWO_PI * u2);
            d[off + j] = radius * (float) StrictMath.cos(theta);
            d[off + j + 8] = radius * (float) StrictMath.sin(theta);
        }
    }
}
