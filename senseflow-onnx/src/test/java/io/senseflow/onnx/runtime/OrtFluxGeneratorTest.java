package io.senseflow.onnx.runtime;

import static io.senseflow.onnx.runtime.Fixtures.CPU1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * FLUX packing on a graph whose output depends on the packed layout:
 * {@code out[n, f] = t x[n, f] + 0.01 f + img_ids[n, 1] + 10 img_ids[n, 2] + sum(txt_ids) [+ guidance]}. A wrong
 * feature order or wrong ids would put these terms on other latent cells than the Java closed form below.
 */
class OrtFluxGeneratorTest {
    private static final LatentFormat FORMAT = new LatentFormat(4, 8, 2);
    private static OrtRuntime ort;

    @BeforeAll
    static void start() {
        ort = OrtRuntime.create(CPU1);
    }

    @AfterAll
    static void stop() {
        ort.close();
    }

    static OnnxModel flux(boolean batchedIds, boolean guidance) {
        GraphBuilder g = GraphBuilder.create("flux");
        Dim b = Dim.symbolic("batch");
        Dim n = Dim.symbolic("tokens");
        String x = g.input("hidden_states", DataType.FLOAT, b, n, Dim.of(16));
        String tokens = g.input("encoder_hidden_states", DataType.FLOAT, b, Dim.symbolic("seq"), Dim.of(5));
        String pooled = g.input("pooled_projections", DataType.FLOAT, b, Dim.of(3));
        String t = g.input("timestep", DataType.FLOAT, b);
        String img = batchedIds ? g.input("img_ids", DataType.FLOAT, b, n, Dim.of(3)) : g.input("img_ids", DataType.FLOAT, n, Dim.of(3));
        String txt = batchedIds ? g.input("txt_ids", DataType.FLOAT, b, Dim.symbolic("seq"), Dim.of(3))
                : g.input("txt_ids", DataType.FLOAT, Dim.symbolic("seq"), Dim.of(3));
        float[] f = new float[16];
        for (int i = 0; i < 16; i++) {
            f[i] = 0.01f * i;
        }
        String pos = g.reduceSum(g.mul(img, g.floatVector(0f, 1f, 10f)), true, -1); // [(b,) n, 1]
        String perSample = g.add(g.mul(g.reduceSum(tokens, false, 1, 2), g.floatScalar(0f)), g.reduceSum(pooled, false, 1));
        perSample = g.add(perSample, g.reduceSum(txt, false));
        if (guidance) {
            perSample = g.add(perSample, g.input("guidance", DataType.FLOAT, b));
        }
        String out = g.add(g.add(g.mul(x, g.unsqueeze(t, 1, 2)), g.floatVector(f)), pos);
        out = g.add(out, g.unsqueeze(perSample, 1, 2));
        g.output(out, "out_hidden_states", DataType.FLOAT, b, n, Dim.of(16));
        return g.build();
    }

    /** The closed form on unpacked latents: cell (c, y, x) is token (y/2)(W/2) + x/2, feature 4c + 2(y%2) + x%2. */
    static Tensor expected(Tensor x, float[] t, Conditioning c, float[] guidance) {
        int b = x.dim(0);
        int ch = x.dim(1);
        int h = x.dim(2);
        int w = x.dim(3);
        float[] out = new float[x.size()];
        for (int n = 0; n < b; n++) {
            double add = c.pooled().sample(n).sum() + (guidance == null ? 0 : guidance[n]);
            for (int cc = 0; cc < ch; cc++) {
                for (int y = 0; y < h; y++) {
                    for (int xx = 0; xx < w; xx++) {
                        int i = ((n * ch + cc) * h + y) * w + xx;
                        int feature = 4 * cc + 2 * (y % 2) + xx % 2;
                        out[i] = (float) (t[n] * x.get(i) + 0.01 * feature + (y / 2) + 10 * (xx / 2) + add);
                    }
                }
            }
        }
        return Tensor.wrap(out, x.shape());
    }

    @Test
    void packsLatentsFeedsIdsAndUnpacks() {
        Tensor x = Fixtures.random(1, 2, 4, 4, 6);
        Conditioning c = Conditioning.of(Fixtures.random(2, 2, 7, 5), Fixtures.random(3, 2, 3));
        float[] s = {0.75f, 0.25f};
        assertThat(OrtFluxGenerator.unpack(OrtFluxGenerator.pack(x), 4, 4, 6)).isEqualTo(x);
        assertThat(OrtFluxGenerator.pack(x).shape()).containsExactly(2, 6, 16);
        for (boolean batched : new boolean[] {false, true}) {
            try (OrtFluxGenerator g = OrtFluxGenerator.create(ort.load(flux(batched, false), "transformer/model.onnx", CPU1),
                    DenoiserBinding.flux(), Parameterization.VELOCITY, FORMAT)) {
                assertThat(g.takesGuidance()).isFalse();
                assertThat(g.latentFormat()).isEqualTo(FORMAT);
                assertThat(Fixtures.maxAbsDiff(g.predict(x, s, c), expected(x, s, c, null))).isLessThan(1e-5f);
            }
        }
        try (OrtFluxGenerator g = OrtFluxGenerator.create(ort.load(flux(false, true), "transformer/model.onnx", CPU1),
                DenoiserBinding.flux(), Parameterization.VELOCITY, FORMAT)) {
            assertThat(g.takesGuidance()).isTrue();
            Conditioning guided = c.withExtra("guidance", Tensor.vector(3.5f, 1f));
            assertThat(Fixtures.maxAbsDiff(g.predict(x, s, guided), expected(x, s, c, new float[] {3.5f, 1f}))).isLessThan(1e-5f);
            assertThatThrownBy(() -> g.predict(Tensor.zeros(1, 4, 3, 4), new float[] {1f}, c.slice(0, 1)))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("must be even, got 3 x 4");
            assertThatThrownBy(() -> g.predict(Tensor.zeros(1, 16, 2, 2), new float[] {1f}, c.slice(0, 1)))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("transformer/model.onnx expects latents [batch, 4, h, w], got [1, 16, 2, 2]");
        }
    }

    @Test
    void refusesModelsThatAreNotFluxShaped() {
        try (OrtModel m = ort.load(flux(false, false), "transformer/model.onnx", CPU1)) {
            assertThatThrownBy(() -> OrtFluxGenerator.create(m, DenoiserBinding.flux(), Parameterization.VELOCITY,
                    new LatentFormat(16, 8, 2)))
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessage("transformer/model.onnx expects 16 latent channels on 'hidden_states', but the latent format says 64");
        }
        try (OrtModel m = ort.load(OrtDenoiserTest.transformer("vector", false), "transformer/model.onnx", CPU1)) {
            assertThatThrownBy(() -> OrtFluxGenerator.create(m, DenoiserBinding.flux(), Parameterization.VELOCITY, FORMAT))
                    .isInstanceOf(ModelLoadException.class).hasMessageStartingWith("transformer/model.onnx has no input 'img_ids'");
        }
    }
}
