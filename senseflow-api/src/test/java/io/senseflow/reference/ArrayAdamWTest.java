package io.senseflow.reference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.train.AdamWConfig;
import io.senseflow.train.LearningRateSchedule;
import io.senseflow.train.OptimizerState;
import org.junit.jupiter.api.Test;

class ArrayAdamWTest {

    @Test
    void firstStepsMatchTheClosedForm() {
        ArrayParameterStore p = new ArrayParameterStore();
        p.add("w", new float[] {1f, -2f}, 2);
        ArrayAdamW opt = new ArrayAdamW(p, new AdamWConfig(LearningRateSchedule.constant(0.1, 0), 0.9, 0.999, 1e-8, 0.01, 0));
        opt.gradientArray("w")[0] = 0.5f;
        opt.gradientArray("w")[1] = -4f;
        opt.step();
        // step 1: p <- p (1 - lr wd); m_hat = g, v_hat = g^2 -> p <- p - lr * sign(g) (up to eps)
        assertThat(p.read("w").toArray()).containsExactly(new float[] {1f * 0.999f - 0.1f, -2f * 0.999f + 0.1f}, within(1e-6f));
        opt.step(); // same gradient again: m_hat = g, v_hat = g^2 -> another lr * sign(g)
        float w0 = (1f * 0.999f - 0.1f) * 0.999f - 0.1f;
        assertThat(p.read("w").get(0)).isCloseTo(w0, within(5e-6f));
        assertThat(opt.stepCount()).isEqualTo(2);
    }

    @Test
    void warmupAndCosineSchedule() {
        LearningRateSchedule s = LearningRateSchedule.cosine(1.0, 10, 110, 0.1);
        assertThat(s.rate(0)).isCloseTo(0.1, within(1e-12));
        assertThat(s.rate(9)).isCloseTo(1.0, within(1e-12));
        assertThat(s.rate(60)).isCloseTo(0.55, within(1e-12));
        assertThat(s.rate(110)).isCloseTo(0.1, within(1e-12));
        assertThat(s.rate(500)).isCloseTo(0.1, within(1e-12));
        assertThat(LearningRateSchedule.constant(1e-6, 500).rate(249)).isCloseTo(5e-7, within(1e-18));
    }

    @Test
    void clippingBoundsTheGlobalNormAndStateRestoresExactly() {
        ArrayParameterStore p = new ArrayParameterStore();
        p.add("a", new float[] {0f, 0f}, 2);
        p.add("b", new float[] {0f}, 1);
        ArrayAdamW opt = new ArrayAdamW(p, AdamWConfig.constant(0.01));
        opt.gradientArray("a")[0] = 3f;
        opt.gradientArray("b")[0] = 4f;
        assertThat(opt.clipGradientNorm(1.0)).isCloseTo(5.0, within(1e-9));
        assertThat(opt.gradientNorm()).isCloseTo(1.0, within(1e-5));
        opt.step();
        OptimizerState st = opt.state();
        ArrayParameterStore copy = p.copy();
        opt.step();
        float after = p.read("a").get(0);
        ArrayAdamW other = new ArrayAdamW(copy, AdamWConfig.constant(0.01));
        other.restore(st);
        other.gradientArray("a")[0] = opt.gradient("a").get(0);
        other.gradientArray("b")[0] = opt.gradient("b").get(0);
        other.step();
        assertThat(copy.read("a").get(0)).isEqualTo(after);
    }
}
