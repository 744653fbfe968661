package io.senseflow.distill;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;

class DiffAugmentTest {
    static Tensor random(long seed, int... shape) {
        return GaussianNoise.sample(seed, 0, 3, shape);
    }

    static double dot(Tensor a, Tensor b) {
        float[] x = a.toArray();
        float[] y = b.toArray();
        double s = 0;
        for (int i = 0; i < x.length; i++) {
            s += (double) x[i] * y[i];
        }
        return s;
    }

    @Test
    void backwardIsTheExactTransposeOfTheAffineMap() {
        // A(x + v) - A(x) = J v for an affine map; the backward must satisfy <g, J v> = <J^T g, v>
        for (DiffAugment aug : new DiffAugment[] {DiffAugment.standard(), DiffAugment.geometric(),
                new DiffAugment(EnumSet.of(DiffAugment.Op.SATURATION), 0, 0),
                new DiffAugment(EnumSet.of(DiffAugment.Op.CONTRAST), 0, 0),
                new DiffAugment(EnumSet.of(DiffAugment.Op.TRANSLATION), 0.3, 0)}) {
            Tensor x = random(1, 3, 3, 8, 6);
            Tensor v = random(2, 3, 3, 8, 6);
            Tensor g = random(3, 3, 3, 8, 6);
            Augmentation.Applied a = aug.apply(x, new RandomStream(9, 1, 0));
            Augmentation.Applied b = aug.apply(x.add(v), new RandomStream(9, 1, 0));
            Tensor jv = b.output().sub(a.output());
            double lhs = dot(g, jv);
            double rhs = dot(a.backward(g), v);
            assertThat(Math.abs(lhs - rhs)).as(aug.toString()).isLessThan(1e-4 * (1 + Math.abs(lhs)));
            assertThat(jv.maxAbs()).isGreaterThan(0f);
        }
    }

    @Test
    void eachOperationDoesWhatItSays() {
        Tensor x = Tensor.full(0.25f, 2, 3, 8, 8);
        // brightness only: a constant image stays constant, shifted by b in (-0.5, 0.5)
        Tensor y = new DiffAugment(EnumSet.of(DiffAugment.Op.BRIGHTNESS), 0, 0).apply(x, new RandomStream(1, 0, 0))
                .output();
        float b0 = y.get(0) - 0.25f;
        assertThat(Math.abs(b0)).isLessThan(0.5f).isGreaterThan(0f);
        assertThat(y.sample(0).toArray()).containsOnly(y.get(0));
        assertThat(y.sample(1).toArray()).containsOnly(y.sample(1).get(0)).doesNotContain(y.get(0));
        // cutout zeroes round(8 / 2)^2 = 16 pixels per channel (fewer where clipped at the border)
        Tensor cut = new DiffAugment(EnumSet.of(DiffAugment.Op.CUTOUT), 0, 0.5).apply(x, new RandomStream(2, 0, 0))
                .output();
        int zeros = 0;
        for (float f : cut.sample(0).toArray()) {
            zeros += f == 0f ? 1 : 0;
        }
        assertThat(zeros % 3).isEqualTo(0);
        assertThat(zeros / 3).isBetween(4, 16);
        // translation keeps the total of a constant image minus what was shifted out
        Tensor t = new DiffAugment(EnumSet.of(DiffAugment.Op.TRANSLATION), 0.25, 0).apply(x, new RandomStream(5, 0, 0))
                .output();
        assertThat(t.sample(0).sum()).isLessThanOrEqualTo(x.sample(0).sum());
        // same stream, same result; none of the ops: identity
        Tensor again = DiffAugment.standard().apply(random(4, 2, 3, 8, 8), new RandomStream(3, 2, 1)).output();
        assertThat(DiffAugment.standard().apply(random(4, 2, 3, 8, 8), new RandomStream(3, 2, 1)).output())
                .isEqualTo(again);
        assertThat(new DiffAugment(EnumSet.noneOf(DiffAugment.Op.class), 0, 0).apply(x, new RandomStream(1, 0, 0))
                .output()).isEqualTo(x);
    }

    @Test
    void badArgumentsAreNamed() {
        assertThatThrownBy(() -> new DiffAugment(EnumSet.allOf(DiffAugment.Op.class), 1.5, 0.5))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("translationRatio");
        assertThatThrownBy(() -> DiffAugment.standard().apply(Tensor.zeros(2, 8), new RandomStream(1, 0, 0)))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("[B, C, H, W]");
    }
}
