package io.senseflow.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.InvalidRequestException;
import org.junit.jupiter.api.Test;

class TensorTest {

    @Test
    void viewsShareStorageAndCopiesAreCompact() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        Tensor mid = t.sample(1);
        assertThat(mid.shape()).containsExactly(1, 2);
        assertThat(mid.toArray()).containsExactly(3, 4);
        assertThat(t.reshape(-1).shape()).containsExactly(6);
        assertThat(t.sliceBatch(1, 3).reshape(4).toArray()).containsExactly(3, 4, 5, 6);
        assertThat(Tensor.concatBatch(t.sample(2), t.sample(0)).toArray()).containsExactly(5, 6, 1, 2);
        assertThat(t.sample(0).repeatEach(2).toArray()).containsExactly(1, 2, 1, 2);
    }

    @Test
    void perSampleCombinationIsTheFlowUpdate() {
        Tensor x = Tensor.of(new float[] {1, 1, 2, 2}, 2, 2);
        Tensor v = Tensor.of(new float[] {1, 0, 0, 1}, 2, 2);
        Tensor out = Tensor.combine(new float[] {1, 2}, x, new float[] {-0.5f, 3}, v);
        assertThat(out.toArray()).containsExactly(0.5f, 1, 4, 7);
        assertThat(out.meanPerSample()).containsExactly(0.75, 5.5);
        assertThat(out.meanAbsPerSample()[0]).isEqualTo(0.75);
        assertThat(Tensor.lerp(x, v, 0.25f).toArray()).containsExactly(1f, 0.75f, 1.5f, 1.75f);
    }

    @Test
    void reductionsAndFiniteness() {
        Tensor t = Tensor.of(new float[] {1, -3, Float.NaN, Float.POSITIVE_INFINITY}, 4);
        assertThat(t.countNonFinite()).isEqualTo(2);
        assertThat(t.isFinite()).isFalse();
        assertThat(Tensor.vector(1, -3).maxAbs()).isEqualTo(3f);
        assertThat(Tensor.vector(1, -3).sumOfSquares()).isEqualTo(10.0);
        assertThat(Tensor.vector(1, -3).mean()).isEqualTo(-1.0);
    }

    @Test
    void badShapesAreNamed() {
        assertThatThrownBy(() -> Tensor.of(new float[3], 2, 2)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("4 elements").hasMessageContaining("3 elements");
        assertThatThrownBy(() -> Tensor.zeros(2, 2).add(Tensor.zeros(2, 3))).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("[2, 3]");
        assertThatThrownBy(() -> Tensor.zeros(6).reshape(4, -1)).isInstanceOf(InvalidRequestException.class);
    }

    @Test
    void equalityIsBitwise() {
        assertThat(Tensor.vector(1, 2)).isEqualTo(Tensor.vector(1, 2)).hasSameHashCodeAs(Tensor.vector(1, 2));
        assertThat(Tensor.vector(0f)).isNotEqualTo(Tensor.vector(-0f));
        assertThat(Tensor.vector(1, 2)).isNotEqualTo(Tensor.vector(1, 2).reshape(2, 1));
    }

    @Test
    void halfPrecisionRoundTripsAndRoundsToNearestEven() {
        assertThat(HalfPrecision.floatToFloat16(1f)).isEqualTo((short) 0x3c00);
        assertThat(HalfPrecision.floatToFloat16(-2f)).isEqualTo((short) 0xc000);
        assertThat(HalfPrecision.floatToFloat16(65504f)).isEqualTo((short) 0x7bff);
        assertThat(HalfPrecision.floatToFloat16(65520f)).isEqualTo((short) 0x7c00); // rounds up to infinity
        assertThat(HalfPrecision.float16ToFloat((short) 0x0001)).isEqualTo(0x1p-24f); // smallest subnormal
        assertThat(HalfPrecision.floatToFloat16(0x1p-25f)).isEqualTo((short) 0); // tie to even: 0
        assertThat(HalfPrecision.floatToFloat16(0x1.8p-25f)).isEqualTo((short) 1);
        // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1)
        assertThat(HalfPrecision.floatToFloat16(1f + 0x1p-11f)).isEqualTo((short) 0x3c00);
        assertThat(HalfPrecision.floatToFloat16(1f + 3 * 0x1p-11f)).isEqualTo((short) 0x3c02);
        assertThat(Float.isNaN(HalfPrecision.float16ToFloat(HalfPrecision.floatToFloat16(Float.NaN)))).isTrue();
        // every fp16 value survives a round trip
        for (int bits = 0; bits < 0x10000; bits++) {
            float f = HalfPrecision.float16ToFloat((short) bits);
            if (!Float.isNaN(f)) {
                assertThat(HalfPrecision.floatToFloat16(f)).isEqualTo((short) bits);
            }
        }
    }

    @Test
    void bfloat16KeepsTheExponentAndRoundsTheMantissa() {
        assertThat(HalfPrecision.floatToBfloat16(1f)).isEqualTo((short) 0x3f80);
        assertThat(HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBfloat16(3.14159f))).isCloseTo(3.140625f, within(0f));
        assertThat(HalfPrecision.floatToBfloat16(1f + 0x1p-8f)).isEqualTo((short) 0x3f80); // tie to even
        assertThat(HalfPrecision.floatToBfloat16(1f + 0x1.8p-8f)).isEqualTo((short) 0x3f81);
        Tensor t = Tensor.vector(0.1f, -7.25f, 1e30f);
        assertThat(Tensor.fromBfloat16(t.toBfloat16(), 3).toArray()).containsExactly(new float[] {0.1f, -7.25f, 1e30f}, within(0.01f * 1e30f));
        assertThat(Tensor.fromFloat16(t.toFloat16(), 3).get(1)).isEqualTo(-7.25f);
    }
}
