package io.senseflow.onnx.arch;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.noise.GaussianNoise;
import java.util.Locale;

/** Comparison helpers for the parity tests. */
final class Parity {
    /** The agreement ONNX Runtime must reach with the double-precision reference. */
    static final double TOLERANCE = 1e-5;

    private Parity() {
    }

    /** @return max|a - b| / max|b| */
    static double relativeError(float[] actual, float[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double diff = 0;
        double scale = 0;
        for (int i = 0; i < actual.length; i++) {
            diff = Math.max(diff, Math.abs((double) actual[i] - expected[i]));
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        return diff / scale;
    }

    /** Asserts parity within {@link #TOLERANCE} and prints the measured error. */
    static double assertMatches(String what, float[] actual, float[] expected) {
        double err = relativeError(actual, expected);
        System.out.printf(Locale.ROOT, "parity %s: max|ort - ref| / max|ref| = %.3e over %d values%n", what, err,
                actual.length);
        assertThat(err).as(what + " relative error").isLessThanOrEqualTo(TOLERANCE);
        return err;
    }

    /** Asserts the values are finite, not all zero and not constant. */
    static void assertNotTrivial(String what, float[] values) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        for (float v : values) {
            assertThat(Float.isFinite(v)).as(what + " finite").isTrue();
            min = Math.min(min, v);
            max = Math.max(max, v);
        }
        assertThat(Math.max(Math.abs(min), Math.abs(max))).as(what + " max |value|").isGreaterThan(1e-2);
        assertThat(max - min).as(what + " spread").isGreaterThan(1e-2);
    }

    /** Seeded standard normals. */
    static float[] normals(long seed, int n) {
        float[] f = new float[n];
        GaussianNoise.fill(seed, 0, 7, f, 0, n);
        return f;
    }
}
