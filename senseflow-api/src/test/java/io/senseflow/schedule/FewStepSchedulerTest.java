package io.senseflow.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** docs/algorithm.md §3: few-step sampling in the stochastic (x0-renoise) and Euler modes. */
class FewStepSchedulerTest {

    @Test
    void stochasticModePredictsX0AndRenoisesToTheNextAnchor() {
        FewStepScheduler sch = FewStepScheduler.of(AnchorPreset.SD35);
        SigmaSchedule s = sch.timesteps(4, 0);
        assertThat(s.sigmas()).containsExactly(1, 0.9, 0.75, 0.5, 0);
        Tensor x = Tensor.vector(2f, -1f).reshape(1, 2);
        Tensor v = Tensor.vector(0.5f, 0.25f).reshape(1, 2);
        Tensor eps = Tensor.vector(1f, 3f).reshape(1, 2);
        // step 0: x0 = x - 1 * v = [1.5, -1.25]; next = 0.1 * x0 + 0.9 * eps = [1.05, 2.575]
        Tensor next = sch.step(x, v, s, 0, () -> eps);
        assertThat(next.toArray()).containsExactly(new float[] {1.05f, 2.575f}, within(1e-6f));
        // last step: x - 0.5 v, no noise drawn
        AtomicInteger draws = new AtomicInteger();
        Tensor last = sch.step(x, v, s, 3, () -> {
            draws.incrementAndGet();
            return eps;
        });
        assertThat(last.toArray()).containsExactly(new float[] {1.75f, -1.125f}, within(1e-6f));
        assertThat(draws).hasValue(0);
    }

    @Test
    void eulerModeStepsBetweenAnchorsAndEndsAtZero() {
        FewStepScheduler sch = FewStepScheduler.of(AnchorPreset.FLUX).withMode(SamplingMode.EULER);
        SigmaSchedule s = sch.timesteps(4, 0);
        Tensor x = Tensor.vector(2f).reshape(1, 1);
        Tensor v = Tensor.vector(1f).reshape(1, 1);
        assertThat(sch.step(x, v, s, 0, () -> { throw new AssertionError("no noise in Euler mode"); }).get(0))
                .isCloseTo(2f - 0.096f, within(1e-6f));
        assertThat(sch.step(x, v, s, 3, null).get(0)).isCloseTo(2f - 0.512f, within(1e-6f));
    }

    @Test
    void fewerStepsUseAnEvenSubsetKeepingTheFirstAnchor() {
        FewStepScheduler sch = FewStepScheduler.of(AnchorPreset.SD35);
        assertThat(sch.timesteps(1, 0).sigmas()).containsExactly(1, 0);
        assertThat(sch.timesteps(2, 0).sigmas()).containsExactly(1, 0.5, 0);
        assertThat(sch.timesteps(3, 0).sigmas()).containsExactly(1, 0.75, 0.5, 0);
        assertThatThrownBy(() -> sch.timesteps(5, 0)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("numSteps").hasMessageContaining("explicit sigmas");
    }

    @Test
    void sdxlAnchorsStartFromTheMappedPureNoiseLevel() {
        SigmaSchedule s = FewStepScheduler.of(AnchorPreset.SDXL).timesteps(4, 0);
        assertThat(s.sigma(0)).isCloseTo(0.935958, within(5e-7));
    }

    @Test
    void badAnchorsAreRejectedNamingTheField() {
        assertThatThrownBy(() -> FewStepScheduler.of(1, 0.5, 0.75)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("anchors").hasMessageContaining("strictly decreasing");
        assertThatThrownBy(() -> FewStepScheduler.of(1.5, 0.5)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("anchors[0]");
        assertThatThrownBy(() -> FewStepScheduler.of(1, 0)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("anchors[1]");
    }

    @Test
    void explicitSigmasGetATerminalZero() {
        SigmaSchedule s = FlowMatchEulerScheduler.sd3(3).timesteps(0.9, 0.4);
        assertThat(s.sigmas()).containsExactly(0.9, 0.4, 0);
        assertThatThrownBy(() -> SigmaSchedule.of(0.4, 0.9)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("strictly decreasing");
        assertThatThrownBy(() -> SigmaSchedule.of(Double.NaN)).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("sigmas[0]");
    }
}
