package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.reference.Mlp;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.GradientMode;
import io.senseflow.train.Upstream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The optimizer side of the data-parallel gradient mean: reading several gradients in one run and overwriting some of
 * them ({@code Optimizer.gradients}, {@code replaceGradients}), in TensorFlow's AdamW against the array AdamW.
 */
class ReplaceGradientsTest {

    @Test
    void replacedGradientsAreWhatTheNextStepUsesInBothBackends() {
        Mlp ref = new Mlp(TfAdamWTest.LINEAR, 5, TfAdamWTest.CONFIG);
        try (TfModule tf = MlpGraph.module(TfAdamWTest.LINEAR, ref.parameters().snapshot(), TfAdamWTest.CONFIG, null,
                "lin")) {
            for (var m : List.of(ref, tf)) {
                m.optimizer().zeroGradients();
                m.backward(TfAdamWTest.ONE, Upstream.explicit(TfAdamWTest.gradient(1)), GradientMode.PARAMETERS);
            }
            List<String> names = List.of("l0.weight", "l0.bias");
            Map<String, Tensor> read = tf.optimizer().gradients(names);
            assertThat(read.keySet()).containsExactlyElementsOf(names);
            for (String n : names) {
                assertThat(read.get(n).toArray()).containsExactly(tf.optimizer().gradient(n).toArray());
                assertThat(read.get(n).toArray()).containsExactly(ref.optimizer().gradient(n).toArray());
            }
            // replace one of the two: the other keeps its accumulated value
            float[] w = TfAdamWTest.gradient(7).toArray();
            for (int i = 0; i < w.length; i++) {
                w[i] *= 3.5f;
            }
            Map<String, Tensor> replacement = new LinkedHashMap<>();
            replacement.put("l0.weight", Tensor.wrap(w, read.get("l0.weight").shape()));
            tf.optimizer().replaceGradients(replacement);
            ref.optimizer().replaceGradients(replacement);
            assertThat(tf.optimizer().gradient("l0.weight").toArray()).containsExactly(w);
            assertThat(tf.optimizer().gradient("l0.bias").toArray()).containsExactly(read.get("l0.bias").toArray());
            assertThat(ref.optimizer().gradient("l0.weight").toArray()).containsExactly(w);
            tf.optimizer().clipGradientNorm(TfAdamWTest.CONFIG.clipNorm());
            ref.optimizer().clipGradientNorm(TfAdamWTest.CONFIG.clipNorm());
            tf.optimizer().step();
            ref.optimizer().step();
            for (String n : names) {
                assertThat(tf.parameters().read(n).toArray()).as(n).containsExactly(ref.parameters().read(n).toArray());
            }
            assertThatThrownBy(() -> tf.optimizer().replaceGradients(Map.of("l9.weight", Tensor.zeros(1, 1))))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("l9.weight");
            assertThatThrownBy(() -> tf.optimizer().replaceGradients(Map.of("l0.bias", Tensor.zeros(3))))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("shape");
        }
    }
}
