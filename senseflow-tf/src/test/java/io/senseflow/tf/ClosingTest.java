package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.reference.Mlp;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;

/**
 * The TensorFlow backend's native owners (a module with its own workspace, a shared workspace; the discriminator in
 * {@code DiscriminatorClosingTest}):
 * closing twice, in either order, is harmless, and any use after closing throws {@link IllegalStateException} naming
 * what is closed, before TensorFlow is reached.
 */
class ClosingTest {
    private static void assertClosed(String message, ThrowingCallable use) {
        assertThatThrownBy(use).isInstanceOf(IllegalStateException.class).hasMessage(message);
    }

    @Test
    void aModuleThatOwnsItsWorkspaceClosesItOnceAndRefusesUseAfterwards() {
        try (Mlp ref = new Mlp(TfModuleTest.SPEC, 7, AdamWConfig.constant(1e-3))) {
            TfModule m = MlpGraph.module(TfModuleTest.SPEC, ref.parameters().snapshot(), AdamWConfig.constant(1e-3), null, "g");
            ModuleInputs in = TfModuleTest.inputs(1, 4);
            Tensor out = m.forward(in);
            assertThat(out.shape()).containsExactly(4, 2, 1, 1);
            TfWorkspace w = m.workspace();
            m.close();
            assertThat(w.isClosed()).isTrue();
            assertThatCode(m::close).doesNotThrowAnyException();
            assertThatCode(w::close).doesNotThrowAnyException();
            assertClosed("TfModule g is closed", () -> m.forward(in));
            assertClosed("TfModule g is closed", () -> m.backward(in, Upstream.explicit(out), GradientMode.BOTH));
            assertClosed("TfModule g is closed", m::parameters);
            assertClosed("TfWorkspace is closed", w::session);
        }
    }

    @Test
    void closingASharedWorkspaceFirstStopsEveryModuleInIt() {
        try (Mlp ref = new Mlp(TfModuleTest.SPEC, 7, AdamWConfig.constant(1e-3))) {
            TfWorkspace w = TfWorkspace.create();
            TfModule a = MlpGraph.module(TfModuleTest.SPEC, ref.parameters().snapshot(), AdamWConfig.constant(1e-3), w, "a");
            TfModule b = MlpGraph.module(TfModuleTest.SPEC, ref.parameters().snapshot(), null, w, "b");
            ModuleInputs in = TfModuleTest.inputs(2, 3);
            assertThat(a.forward(in)).isEqualTo(b.forward(in));
            a.close();
            assertThat(w.isClosed()).as("a module does not close a workspace it was given").isFalse();
            assertThat(b.forward(in).shape()).containsExactly(3, 2, 1, 1);
            w.close();
            assertClosed("TfWorkspace is closed", () -> b.forward(in));
            assertThatCode(b::close).doesNotThrowAnyException();
            assertThatCode(w::close).doesNotThrowAnyException();
            assertClosed("TfModule b is closed", () -> b.forward(in));
        }
    }
}
