package io.senseflow.noise;

/**
 * Single-precision log, sine and cosine evaluated exactly as PyTorch's x86 normal kernel evaluates them, so that
 * {@link TorchGenerator} gives torch's bits rather than correctly rounded values.
 *
 * <p>That kernel uses the Cephes single-precision approximations (S. Moshier's Cephes library, as vectorised in
 * J. Pommier's {@code sse_mathfun}): log splits off the exponent, moves the mantissa to {@code [sqrt(1/2), sqrt(2))},
 * evaluates a degree-9 polynomial and adds the exponent times {@code ln 2} in two parts; sine and cosine reduce the
 * argument by multiples of {@code pi/4} in three parts (Cody-Waite) and evaluate one of two short polynomials per
 * octant. The compiled kernel fuses several multiply-add pairs into FMA instructions; which pairs is part of the
 * result, and the arithmetic below uses {@link Math#fma} at exactly those places (found by comparing with torch's
 * output: with them none of 163,840 values differs; see docs/models.md and {@code TorchGeneratorTest}).
 *
 * <p>Stateless: safe to call from any number of threads at once.
 */
final class VectorMath {
    private static final float SQRT_HALF = 0.707106781186547524f;
    private static final float[] LOG_POLY = {7.0376836292E-2f, -1.1514610310E-1f, 1.1676998740E-1f, -1.2420140846E-1f,
        1.4249322787E-1f, -1.6668057665E-1f, 2.0000714765E-1f, -2.4999993993E-1f, 3.3333331174E-1f};
    /** ln 2 = LN2_HI + LN2_LO, LN2_HI exact in a few bits. */
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float LN2_HI = 0.693359375f;

    /** pi/4 = PIO4_A + PIO4_B + PIO4_C (negated here). */
    private static final float PIO4_A = -0.78515625f;
    private static final float PIO4_B = -2.4187564849853515625e-4f;
    private static final float PIO4_C = -3.77489497744594108e-8f;
    private static final float FOUR_OVER_PI = 1.27323954473516f;
    private static final float SIN_0 = -1.9515295891E-4f;
    private static final float SIN_1 = 8.3321608736E-3f;
    private static final float SIN_2 = -1.6666654611E-1f;
    private static final float COS_0 = 2.443315711809948E-005f;
    private static final float COS_1 = -1.388731625493765E-003f;
    private static final float COS_2 = 4.166664568298827E-002f;

    private VectorMath() {
    }

    /** @param x a positive normal float (the kernel only sees {@code 1 - u}, u in [0, 1)) @return ln x */
    static float log(float x) {
        int bits = Float.floatToRawIntBits(x);
        float e = (float) ((bits >>> 23) - 0x7f) + 1f;
        float m = Float.intBitsToFloat((bits & ~0x7f800000) | 0x3f000000); // mantissa in [0.5, 1)
        float t;
        if (m < SQRT_HALF) {
            e -= 1f;
            t = (m - 1f) + m;
        } else {
            t = m - 1f;
        }
        float z = t * t;
        float p = LOG_POLY[0];
        for (int i = 1; i < LOG_POLY.length; i++) {
            p = Math.fma(p, t, LOG_POLY[i]);
        }
        p *= t;
        float y = Math.fma(p, z, e * LN2_LO);
        y = Math.fma(-z, 0.5f, y);
        return Math.fma(e, LN2_HI, t + y);
    }

    /**
     * @param x an angle in radians, {@code 0 <= x < 2 pi} here
     * @param out receives {@code sin x} at 0 and {@code cos x} at 1
     */
    static void sinCos(float x, float[] out) {
        boolean negative = x < 0;
        float a = Math.abs(x);
        int octant = ((int) (a * FOUR_OVER_PI) + 1) & ~1;
        float k = octant;
        float r = Math.fma(k, PIO4_A, a);
        r = Math.fma(k, PIO4_B, r);
        r = Math.fma(k, PIO4_C, r);
        float z = r * r;

        float c = Math.fma(COS_0, z, COS_1);
        c = Math.fma(c, z, COS_2);
        c *= z;
        c = Math.fma(c, z, -(z * 0.5f));
        c += 1f;

        float s = Math.fma(SIN_0, z, SIN_1);
        s = Math.fma(s, z, SIN_2);
        s *= z;
        s = Math.fma(s, r, r);

        boolean sinPolyForSine = (octant & 2) == 0;
        float sin = sinPolyForSine ? s : c;
        float cos = sinPolyForSine ? c : s;
        if (negative ^ ((octant & 4) != 0)) {
            sin = -sin;
        }
        if ((~(octant - 2) & 4) != 0) {
            cos = -cos;
        }
        out[0] = sin;
        out[1] = cos;
    }
}
