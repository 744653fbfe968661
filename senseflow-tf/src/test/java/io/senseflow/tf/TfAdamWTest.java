package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.CheckpointException;
import io.senseflow.noise.RandomStream;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.LearningRateSchedule;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.OptimizerState;
import io.senseflow.train.Upstream;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * AdamW from TensorFlow ops against the pure-Java {@code ArrayAdamW}. To give both exactly the same gradients, the
 * module is a single linear layer {@code y = W x + b} with one input {@code x = [[1]]} and an explicit upstream
 * {@code g}: then {@code dW = g}, {@code db = g} exactly in both backends, and only the optimizers differ.
 */
class TfAdamWTest {
    static final int N = 64;
    static final MlpSpec LINEAR = new MlpSpec(1, 0, 0, new int[0], N, false);
    static final AdamWConfig CONFIG = new AdamWConfig(LearningRateSchedule.cosine(3e-2, 5, 40, 1e-3), 0.9, 0.99, 1e-8,
            0.05, 0.8);

    static final ModuleInputs ONE = ModuleInputs.of(Tensor.of(new float[] {1f}, 1, 1), null);

    static Tensor gradient(int step) {
        RandomStream r = new RandomStream(99, 3, step);
        float[] g = new float[N];
        for (int i = 0; i < N; i++) {
            // a spread of magnitudes, some tiny, so the epsilon and the clipping both matter
            g[i] = (float) (r.nextUniform(-1, 1) * Math.pow(10, -4 * r.nextUniform()));
        }
        return Tensor.wrap(g, 1, N);
    }

    static void train(io.senseflow.train.DifferentiableModule m, int from, int to) {
        for (int s = from; s < to; s++) {
            m.optimizer().zeroGradients();
            m.backward(ONE, Upstream.explicit(gradient(s)), GradientMode.PARAMETERS);
            if (s % 3 == 0) {
                m.backward(ONE, Upstream.explicit(gradient(1000 + s)), GradientMode.PARAMETERS); // accumulate
            }
            m.optimizer().clipGradientNorm(CONFIG.clipNorm());
            m.optimizer().step();
        }
    }

    @Test
    void adamWMatchesArrayAdamWBitForBitOnTheSameGradients() {
        Mlp ref = new Mlp(LINEAR, 5, CONFIG);
        try (TfModule tf = MlpGraph.module(LINEAR, ref.parameters().snapshot(), CONFIG, null, "lin")) {
            for (int s = 0; s < 30; s++) {
                assertThat(tf.optimizer().learningRate()).isEqualTo(ref.optimizer().learningRate());
                ref.optimizer().zeroGradients();
                tf.optimizer().zeroGradients();
                ref.backward(ONE, Upstream.explicit(gradient(s)), GradientMode.PARAMETERS);
                tf.backward(ONE, Upstream.explicit(gradient(s)), GradientMode.PARAMETERS);
                assertThat(tf.optimizer().gradient("l0.bias").toArray())
                        .containsExactly(ref.optimizer().gradient("l0.bias").toArray());
                double nr = ref.optimizer().clipGradientNorm(CONFIG.clipNorm());
                double nt = tf.optimizer().clipGradientNorm(CONFIG.clipNorm());
                assertThat(nt).isCloseTo(nr, org.assertj.core.data.Offset.offset(1e-12 * nr));
                ref.optimizer().step();
                tf.optimizer().step();
                Map<String, Tensor> want = ref.parameters().snapshot();
                Map<String, Tensor> got = tf.parameters().snapshot();
                for (String k : want.keySet()) {
                    assertThat(got.get(k).toArray()).as("step " + s + " " + k).containsExactly(want.get(k).toArray());
                }
            }
            assertThat(tf.optimizer().stepCount()).isEqualTo(30);
            OptimizerState a = tf.optimizer().state();
            OptimizerState b = ref.optimizer().state();
            assertThat(a.step()).isEqualTo(b.step());
            for (String k : b.slots().keySet()) {
                assertThat(a.slots().get(k).toArray()).as(k).containsExactly(b.slots().get(k).toArray());
            }
        }
    }

    @Test
    void stateAndRestoreResumeExactly() {
        Mlp init = new Mlp(LINEAR, 6, null);
        try (TfModule full = MlpGraph.module(LINEAR, init.parameters().snapshot(), CONFIG, null, "full");
             TfModule first = MlpGraph.module(LINEAR, init.parameters().snapshot(), CONFIG, null, "first");
             TfModule resumed = MlpGraph.module(LINEAR, init.parameters().snapshot(), CONFIG, null, "resumed")) {
            train(full, 0, 12);
            train(first, 0, 7);
            OptimizerState state = first.optimizer().state();
            Map<String, Tensor> params = first.parameters().snapshot();
            params.forEach(resumed.parameters()::write);
            resumed.optimizer().restore(state);
            assertThat(resumed.optimizer().stepCount()).isEqualTo(7);
            assertThat(resumed.optimizer().learningRate()).isEqualTo(first.optimizer().learningRate());
            train(resumed, 7, 12);
            assertThat(resumed.parameters().snapshot()).isEqualTo(full.parameters().snapshot());
            assertThat(resumed.optimizer().state().slots()).isEqualTo(full.optimizer().state().slots());
            OptimizerState broken = new OptimizerState(3, Map.of("m/l0.weight", Tensor.zeros(2)));
            assertThatThrownBy(() -> resumed.optimizer().restore(broken)).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("m/l0.weight").hasMessageContaining("64 values");
        }
    }
}
