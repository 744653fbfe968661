package io.senseflow.tf.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.onnx.ir.TensorValue;
import java.util.Arrays;

/** Element-wise comparison of ONNX tensors with a tolerance for floating types. */
public final class Compare {
    private Compare() {
    }

    /**
     * @param what label
     * @param expected expected value
     * @param actual actual value
     * @param atol absolute tolerance
     * @param rtol relative tolerance
     * @return the largest absolute difference (0 for exact types)
     */
    public static double assertClose(String what, TensorValue expected, TensorValue actual, double atol, double rtol) {
        assertThat(actual.dataType()).as(what + " dtype").isEqualTo(expected.dataType());
        assertThat(actual.dims()).as(what + " shape").containsExactly(expected.dims());
        if (expected.dataType().isFloatingPoint()) {
            double[] e = doubles(expected);
            double[] a = doubles(actual);
            double worst = 0;
            for (int i = 0; i < e.length; i++) {
                if (Double.isNaN(e[i])) {
                    assertThat(a[i]).as(what + "[" + i + "]").isNaN();
                    continue;
                }
                if (Double.isInfinite(e[i])) {
                    assertThat(a[i]).as(what + "[" + i + "]").isEqualTo(e[i]);
                    continue;
                }
                double d = Math.abs(e[i] - a[i]);
                worst = Math.max(worst, d);
                if (d > atol + rtol * Math.abs(e[i])) {
                    throw new AssertionError(what + "[" + i + "]: expected " + e[i] + ", got " + a[i] + " (|diff| " + d
                            + " > " + atol + " + " + rtol + " * |expected|)");
                }
            }
            return worst;
        }
        assertThat(actual.toLongs()).as(what).containsExactly(expected.toLongs());
        return 0;
    }

    /** @param t a floating tensor @return its values as doubles */
    public static double[] doubles(TensorValue t) {
        if (t.dataType() == io.senseflow.onnx.ir.DataType.DOUBLE) {
            double[] d = new double[(int) t.elementCount()];
            t.bytes().asDoubleBuffer().get(d);
            return d;
        }
        float[] f = t.toFloats();
        return Arrays.copyOf(toDoubles(f), f.length);
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
