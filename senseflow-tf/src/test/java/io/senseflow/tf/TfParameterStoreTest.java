package io.senseflow.tf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.ParameterStore;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Reads, writes, and the in-graph blend and copy against the reference definition. */
class TfParameterStoreTest {
    static final MlpSpec SPEC = MlpSpec.denoiser(2, 8, 16, 2);

    static Map<String, Tensor> expectedBlend(Map<String, Tensor> mine, Map<String, Tensor> theirs, double keep) {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        mine.forEach((k, v) -> {
            float[] a = v.toArray();
            float[] b = theirs.get(k).toArray();
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (keep * a[i] + (1 - keep) * b[i]);
            }
            out.put(k, Tensor.wrap(a, v.shape()));
        });
        return out;
    }

    @Test
    void blendAndCopyInTheSameWorkspaceAreBitIdenticalToTheReferenceDefinition() {
        Mlp a = new Mlp(SPEC, 1, null);
        Mlp b = new Mlp(SPEC, 2, null);
        try (TfWorkspace ws = TfWorkspace.create();
             TfModule f = MlpGraph.module(SPEC, a.parameters().snapshot(), null, ws, "fake_score");
             TfModule g = MlpGraph.module(SPEC, b.parameters().snapshot(), null, ws, "generator")) {
            for (double keep : new double[] {0.97, 0.5, 0.0, 1.0, 0.123456789}) {
                Map<String, Tensor> want = expectedBlend(f.parameters().snapshot(), g.parameters().snapshot(), keep);
                f.parameters().blendFrom(g.parameters(), keep);
                assertThat(f.parameters().snapshot()).as("keep " + keep).isEqualTo(want);
            }
            // the same through the reference backend's default, and from a store in another backend (fed)
            a.parameters().blendFrom(b.parameters(), 0.8);
            f.parameters().copyFrom(ParameterStoreView.of(new Mlp(SPEC, 1, null).parameters()));
            f.parameters().blendFrom(b.parameters(), 0.8);
            assertThat(f.parameters().snapshot()).isEqualTo(a.parameters().snapshot());
            g.parameters().copyFrom(f.parameters());
            assertThat(g.parameters().snapshot()).isEqualTo(f.parameters().snapshot());
        }
    }

    @Test
    void writeAllWritesWholeBlocksAndPartsOfBlocksAsWriteWould() {
        Mlp a = new Mlp(SPEC, 4, null);
        Mlp b = new Mlp(SPEC, 5, null);
        try (TfModule m = MlpGraph.module(SPEC, a.parameters().snapshot(), null, null, "m")) {
            ParameterStore p = m.parameters();
            Map<String, Tensor> all = b.parameters().snapshot();
            p.writeAll(all);                                   // every parameter: whole blocks
            assertThat(p.snapshot()).isEqualTo(all);
            Map<String, Tensor> one = Map.of("l0.weight", a.parameters().read("l0.weight"));
            p.writeAll(one);                                   // part of a block: that parameter alone
            Map<String, Tensor> want = new java.util.LinkedHashMap<>(all);
            want.putAll(one);
            assertThat(p.snapshot()).isEqualTo(want);
            assertThatThrownBy(() -> p.writeAll(Map.of("l0.weight", Tensor.zeros(3))))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("l0.weight");
            assertThatThrownBy(() -> p.writeAll(Map.of("nope", Tensor.zeros(3))))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("nope");
            assertThat(p.snapshot()).as("a refused writeAll writes nothing").isEqualTo(want);
        }
    }

    @Test
    void readWriteAndSpecsUseOriginalNames() {
        Mlp a = new Mlp(SPEC, 3, null);
        try (TfModule m = MlpGraph.module(SPEC, a.parameters().snapshot(), null, null, "m")) {
            ParameterStore p = m.parameters();
            assertThat(p.specs()).isEqualTo(a.parameters().specs());
            assertThat(p.parameterCount()).isEqualTo(a.parameters().parameterCount());
            Tensor w = Tensor.full(0.25f, 16, 2 + 13 + 8);
            p.write("l0.weight", w);
            assertThat(p.read("l0.weight").toArray()).containsExactly(w.toArray());
            assertThatThrownBy(() -> p.write("l0.weight", Tensor.zeros(3))).isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("l0.weight").hasMessageContaining("[16, 23]");
            assertThatThrownBy(() -> p.read("nope")).isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("l0.weight");
            Mlp other = new Mlp(MlpSpec.denoiser(2, 8, 8, 2), 1, null);
            assertThatThrownBy(() -> p.blendFrom(other.parameters(), 0.5)).isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining("same parameter names");
            for (ParameterSpec s : p.specs()) {
                assertThat(m.importedGraph().originalNames()).containsValue(s.name());
            }
        }
    }

    /** Hides the concrete store type, so the generic (fed) path is taken. */
    record ParameterStoreView(ParameterStore inner) implements ParameterStore {
        static ParameterStore of(ParameterStore s) {
            return new ParameterStoreView(s);
        }

        @Override
        public java.util.List<ParameterSpec> specs() {
            return inner.specs();
        }

        @Override
        public Tensor read(String name) {
            return inner.read(name);
        }

        @Override
        public void write(String name, Tensor value) {
            inner.write(name, value);
        }
    }
}
