package io.senseflow.tensor;

/**
 * Conversions between float and the two 16-bit formats models ship in: IEEE 754 half precision (fp16) and
 * bfloat16 (bf16). Both narrowing conversions round to nearest, ties to even, and keep NaN a NaN.
 *
 * <p>Stateless (static methods only): safe to call from any number of threads at once.
 */
public final class HalfPrecision {
    private HalfPrecision() {
    }

    /** @param bits fp16 bits @return the float value (exact) */
    public static float float16ToFloat(short bits) {
        int h = bits & 0xffff;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            if (mant == 0) {
                return Float.intBitsToFloat(sign);
            }
            // subnormal: mant * 2^-24
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
    }

    /** @param value a float @return the nearest fp16 bits (ties to even; overflow to infinity) */
    public static short floatToFloat16(float value) {
        int f = Float.floatToRawIntBits(value);
        int sign = (f >>> 16) & 0x8000;
        int exp = (f >>> 23) & 0xff;
        int mant = f & 0x7fffff;
        if (exp == 0xff) {
            // Inf or NaN (keep a quiet NaN payload bit)
            return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) {
            if (e < -10) {
                return (short) sign; // rounds to zero
            }
            // subnormal half: shift the full mantissa (with implicit bit) right
            int m = mant | 0x800000;
            int shift = 14 - e;
            int half = m >>> shift;
            int rem = m & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        int half = (e << 10) | (mant >>> 13);
        int rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) != 0)) {
            half++; // may carry into the exponent, up to infinity: correct
        }
        return (short) (sign | half);
    }

    /** @param bits bf16 bits @return the float value (exact) */
    public static float bfloat16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xffff) << 16);
    }

    /** @param value a float @return the nearest bf16 bits (ties to even) */
    public static short floatToBfloat16(float value) {
        int f = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((f >>> 16) | 0x40);
        }
        int rounding = 0x7fff + ((f >>> 16) & 1);
        return (short) ((f + rounding) >>> 16);
    }

    /** @param bits fp16 values @return the floats */
    public static float[] float16ToFloat(short[] bits) {
        float[] out = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            out[i] = float16ToFloat(bits[i]);
        }
        return out;
    }

    /** @param values floats @return the fp16 bits */
    public static short[] floatToFloat16(float[] values) {
        short[] out = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = floatToFloat16(values[i]);
        }
        return out;
    }

    /** @param bits bf16 values @return the floats */
    public static float[] bfloat16ToFloat(short[] bits) {
        float[] out = new float[bits.length];
        for (int i = 0; i < bits.length; i++) {
            out[i] = bfloat16ToFloat(bits[i]);
        }
        return out;
    }

    /** @param values floats @return the bf16 bits */
    public static short[] floatToBfloat16(float[] values) {
        short[] out = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = floatToBfloat16(values[i]);
        }
        return out;
    }
}
