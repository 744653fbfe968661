package io.senseflow.onnx.runtime;

import static io.senseflow.onnx.runtime.Fixtures.CPU1;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.EpsilonModel;
import io.senseflow.model.EpsilonToFlowAdapter;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Generators and epsilon models on graphs whose output is a closed-form function of their inputs:
 * {@code out = x * t + mean(tokens) + sum(pooled) [+ guidance]}, so a wrong timestep scale, a swapped input or a
 * dropped sample shows up in the numbers.
 */
class OrtDenoiserTest {
    private static final LatentFormat FORMAT = new LatentFormat(4, 8, 1);
    private static OrtRuntime ort;

    @BeforeAll
    static void start() {
        ort = OrtRuntime.create(CPU1);
    }

    @AfterAll
    static void stop() {
        ort.close();
    }

    /**
     * @param timestep "vector" ([batch] float), "scalar" (rank-0 float) or "int64" ([batch] int64)
     * @param guidance whether the graph also adds a [batch] "guidance" input
     */
    static OnnxModel transformer(String timestep, boolean guidance) {
        GraphBuilder g = GraphBuilder.create("transformer");
        Dim b = Dim.symbolic("batch");
        String x = g.input("hidden_states", DataType.FLOAT, b, Dim.of(4), Dim.symbolic("h"), Dim.symbolic("w"));
        String t = switch (timestep) {
            case "scalar" -> g.input("timestep", DataType.FLOAT);
            case "int64" -> g.cast(g.input("timestep", DataType.INT64, b), DataType.FLOAT);
            default -> g.input("timestep", DataType.FLOAT, b);
        };
        String tokens = g.input("encoder_hidden_states", DataType.FLOAT, b, Dim.symbolic("seq"), Dim.of(5));
        String pooled = g.input("pooled_projections", DataType.FLOAT, b, Dim.of(6));
        String tb = timestep.equals("scalar") ? t : g.unsqueeze(t, 1, 2, 3);
        String perSample = g.add(g.reduceMean(tokens, false, 1, 2), g.reduceSum(pooled, false, 1));
        if (guidance) {
            perSample = g.add(perSample, g.input("guidance", DataType.FLOAT, b));
        }
        String out = g.add(g.mul(x, tb), g.unsqueeze(perSample, 1, 2, 3));
        g.output(out, "out_hidden_states", DataType.FLOAT, b, Dim.of(4), Dim.symbolic("h"), Dim.symbolic("w"));
        return g.build();
    }

    static Conditioning conditioning(int batch) {
        return Conditioning.of(Fixtures.random(10 + batch, batch, 3, 5), Fixtures.random(20 + batch, batch, 6));
    }

    /** The closed form in Java. */
    static Tensor expected(Tensor x, float[] t, Conditioning c, float[] guidance) {
        int n = x.sampleSize();
        float[] out = new float[x.size()];
        for (int b = 0; b < x.batch(); b++) {
            double add = c.tokens().sample(b).mean() + c.pooled().sample(b).sum() + (guidance == null ? 0 : guidance[b]);
            for (int i = 0; i < n; i++) {
                out[b * n + i] = (float) (x.get(b * n + i) * t[b] + add);
            }
        }
        return Tensor.wrap(out, x.shape());
    }

    @Test
    void timestepScaleIsAppliedAtTheBoundary() {
        Tensor x = Fixtures.random(1, 3, 4, 2, 2);
        float[] s = {0.25f, 0.5f, 1f};
        Conditioning c = conditioning(3);
        try (OrtGenerator sd3 = OrtGenerator.create(ort.load(transformer("vector", false), "transformer/model.onnx", CPU1),
                DenoiserBinding.sd3(), Parameterization.VELOCITY, FORMAT);
             OrtGenerator flux = OrtGenerator.create(ort.load(transformer("vector", false), "transformer/model.onnx", CPU1),
                     DenoiserBinding.flux(), Parameterization.X0, FORMAT)) {
            assertThat(Fixtures.maxAbsDiff(sd3.predict(x, s, c), expected(x, new float[] {250, 500, 1000}, c, null)))
                    .isLessThan(1e-3f);
            assertThat(Fixtures.maxAbsDiff(flux.predict(x, s, c), expected(x, s, c, null))).isLessThan(1e-5f);
            assertThat(sd3.parameterization()).isEqualTo(Parameterization.VELOCITY);
            assertThat(flux.parameterization()).isEqualTo(Parameterization.X0);
            assertThat(flux.latentFormat()).isEqualTo(FORMAT);
            // the prediction converts to a velocity through the parameterization: v = (x - x0) / s
            Tensor x0 = flux.predict(x, s, c);
            assertThat(flux.velocity(x, s, c)).isEqualTo(Parameterization.X0.toVelocity(x, x0, s));
        }
    }

    @Test
    void scalarTimestepModelsRunEachStretchOfEqualTimesteps() {
        Tensor x = Fixtures.random(2, 5, 4, 2, 2);
        float[] s = {0.2f, 0.2f, 0.7f, 0.7f, 0.1f};
        Conditioning c = conditioning(5);
        try (OrtGenerator scalar = OrtGenerator.create(ort.load(transformer("scalar", false), "scalar.onnx", CPU1),
                DenoiserBinding.flux(), Parameterization.VELOCITY, FORMAT);
             OrtGenerator vector = OrtGenerator.create(ort.load(transformer("vector", false), "vector.onnx", CPU1),
                     DenoiserBinding.flux(), Parameterization.VELOCITY, FORMAT)) {
            assertThat(scalar.model().input("timestep").isScalar()).isTrue();
            Tensor a = scalar.predict(x, s, c);
            Tensor b = vector.predict(x, s, c);
            assertThat(Fixtures.maxAbsDiff(a, expected(x, s, c, null))).isLessThan(1e-5f);
            assertThat(Fixtures.maxAbsDiff(a, b)).isLessThan(1e-6f);
            // one shared timestep: one run
            float[] same = {0.4f, 0.4f, 0.4f, 0.4f, 0.4f};
            assertThat(Fixtures.maxAbsDiff(scalar.predict(x, same, c), expected(x, same, c, null))).isLessThan(1e-5f);
        }
    }

    @Test
    void integerTimestepsAreRounded() {
        Tensor x = Fixtures.random(3, 2, 4, 1, 1);
        Conditioning c = conditioning(2);
        try (OrtGenerator g = OrtGenerator.create(ort.load(transformer("int64", false), "int.onnx", CPU1),
                DenoiserBinding.sd3(), Parameterization.VELOCITY, FORMAT)) {
            Tensor out = g.predict(x, new float[] {0.2503f, 0.9996f}, c);
            assertThat(Fixtures.maxAbsDiff(out, expected(x, new float[] {250, 1000}, c, null))).isLessThan(1e-3f);
        }
    }

    @Test
    void extrasAndConstantsFeedTheirInputs() {
        Tensor x = Fixtures.random(4, 2, 4, 2, 2);
        float[] s = {0.3f, 0.6f};
        Conditioning c = conditioning(2).withExtra("guidance", Tensor.vector(3.5f, -1f));
        try (OrtGenerator g = OrtGenerator.create(ort.load(transformer("vector", true), "flux.onnx", CPU1),
                DenoiserBinding.flux(), Parameterization.VELOCITY, FORMAT)) {
            assertThat(Fixtures.maxAbsDiff(g.predict(x, s, c), expected(x, s, c, new float[] {3.5f, -1f}))).isLessThan(1e-5f);
            assertThatThrownBy(() -> g.predict(x, s, conditioning(2)))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("missing required input 'guidance'");
        }
        // a guidance fixed in the binding instead (a guidance-distilled teacher run at one scale)
        DenoiserBinding fixed = DenoiserBinding.flux().toBuilder().constant("guidance", Tensor.vector(2f, 2f)).build();
        try (OrtGenerator g = OrtGenerator.create(ort.load(transformer("vector", true), "flux.onnx", CPU1), fixed,
                Parameterization.VELOCITY, FORMAT)) {
            Conditioning plain = conditioning(2);
            assertThat(Fixtures.maxAbsDiff(g.predict(x, s, plain), expected(x, s, plain, new float[] {2f, 2f}))).isLessThan(1e-5f);
            assertThatThrownBy(() -> g.predict(x, s, plain.withExtra("guidance", Tensor.vector(1f, 1f))))
                    .isInstanceOf(InvalidRequestException.class).hasMessageContaining("both a binding constant and a conditioning extra");
            assertThatThrownBy(() -> g.predict(x, s, plain.withExtra("txt_ids", Tensor.vector(1f, 1f))))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessageStartingWith("conditioning extra 'txt_ids' matches no input of flux.onnx");
        }
    }

    @Test
    void mismatchesAreReportedBeforeRunning() {
        OnnxModel graph = transformer("vector", false);
        try (OrtModel m = ort.load(graph, "transformer/model.onnx", CPU1)) {
            assertThatThrownBy(() -> OrtGenerator.create(m, DenoiserBinding.sd3(), Parameterization.VELOCITY, new LatentFormat(16, 8, 2)))
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessage("transformer/model.onnx expects 4 latent channels on 'hidden_states', but the latent format says 16");
            assertThatThrownBy(() -> OrtGenerator.create(m, DenoiserBinding.sdxlUnet(), Parameterization.VELOCITY, FORMAT))
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessageStartingWith("transformer/model.onnx has no input 'sample'; its inputs are [hidden_states, timestep, "
                            + "encoder_hidden_states, pooled_projections]");
            assertThatThrownBy(() -> OrtGenerator.create(m, DenoiserBinding.sd3().toBuilder().output("sample").build(),
                    Parameterization.VELOCITY, FORMAT))
                    .isInstanceOf(ModelLoadException.class).hasMessageContaining("has no output 'sample'");
            OrtGenerator g = OrtGenerator.create(m, DenoiserBinding.sd3(), Parameterization.VELOCITY, FORMAT);
            Conditioning c = conditioning(2);
            assertThatThrownBy(() -> g.predict(Tensor.zeros(2, 16, 2, 2), new float[] {0.5f, 0.5f}, c))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("transformer/model.onnx expects 4 latent channels, got 16 (state shape [2, 16, 2, 2])");
            assertThatThrownBy(() -> g.predict(Tensor.zeros(2, 4, 2, 2), new float[] {0.5f}, c))
                    .isInstanceOf(InvalidRequestException.class).hasMessageStartingWith("timesteps: expected 2 values");
            assertThatThrownBy(() -> g.predict(Tensor.zeros(2, 4, 2, 2), new float[] {0.5f, 0.5f}, Conditioning.of(c.tokens(), null)))
                    .isInstanceOf(InvalidRequestException.class)
                    .hasMessage("transformer/model.onnx takes a pooled embedding on 'pooled_projections', but the conditioning has none");
            g.close();
            g.close();
            assertThatThrownBy(() -> g.predict(Tensor.zeros(2, 4, 2, 2), new float[] {0.5f, 0.5f}, c))
                    .isInstanceOf(IllegalStateException.class);
        }
    }

    /** eps = 0.5 sample + t / 1000 + mean(time_ids), on an SDXL-like UNet with a scalar int64 timestep. */
    static OnnxModel unet() {
        GraphBuilder g = GraphBuilder.create("unet");
        Dim b = Dim.symbolic("batch");
        String x = g.input("sample", DataType.FLOAT, b, Dim.of(4), Dim.symbolic("h"), Dim.symbolic("w"));
        String t = g.cast(g.input("timestep", DataType.INT64), DataType.FLOAT);
        g.input("encoder_hidden_states", DataType.FLOAT, b, Dim.of(3), Dim.of(5));
        g.input("text_embeds", DataType.FLOAT, b, Dim.of(6));
        String ids = g.input("time_ids", DataType.FLOAT, b, Dim.of(6));
        String add = g.add(g.div(t, g.floatScalar(1000f)), g.reduceMean(ids, false, 1));
        String eps = g.add(g.mul(x, g.floatScalar(0.5f)), g.unsqueeze(add, 1, 2, 3));
        g.output(eps, "out_sample", DataType.FLOAT, b, Dim.of(4), Dim.symbolic("h"), Dim.symbolic("w"));
        return g.build();
    }

    @Test
    void epsilonModelWorksUnderTheFlowAdapter() {
        Tensor timeIds = Tensor.of(new float[] {1024, 1024, 0, 0, 1024, 1024, 512, 512, 0, 0, 512, 512}, 2, 6);
        Conditioning c = conditioning(2).withExtra("time_ids", timeIds);
        DdpmSchedule schedule = DdpmSchedule.stableDiffusion();
        // the same closed form in Java (with the same rounding of the timestep)
        EpsilonModel java = new EpsilonModel() {
            @Override
            public Tensor predictEpsilon(Tensor xt, float[] timesteps, Conditioning cond) {
                float[] a = new float[xt.batch()];
                float[] add = new float[xt.batch()];
                for (int i = 0; i < a.length; i++) {
                    a[i] = 0.5f;
                    add[i] = (float) (Math.rint(timesteps[i]) / 1000 + cond.extras().get("time_ids").sample(i).mean());
                }
                Tensor ones = Tensor.full(1f, xt.shape());
                return Tensor.combine(a, xt, add, ones);
            }

            @Override
            public LatentFormat latentFormat() {
                return FORMAT;
            }
        };
        Tensor x = Fixtures.random(5, 2, 4, 2, 2);
        float[] sigmas = {0.9f, 0.35f};
        try (OrtEpsilonModel eps = OrtEpsilonModel.create(ort.load(unet(), "unet/model.onnx", CPU1), DenoiserBinding.sdxlUnet(), FORMAT);
             EpsilonToFlowAdapter onnx = new EpsilonToFlowAdapter(eps, schedule)) {
            float[] t = {999f, 400.4f};
            // values near 700: a float's step there is 6e-5
            assertThat(Fixtures.maxAbsDiff(eps.predictEpsilon(x, t, c), java.predictEpsilon(x, t, c))).isLessThan(2e-4f);
            Tensor expected = new EpsilonToFlowAdapter(java, schedule).predict(x, sigmas, c);
            assertThat(Fixtures.maxAbsDiff(onnx.predict(x, sigmas, c), expected)).isLessThan(2e-3f);
        }
    }

    @Test
    void decoderAndEncoderApplyVaeScalingAndShift() {
        // decoder: image = 2 z - 1 on [batch, 4, h, w] -> [batch, 4, h, w]; encoder: [3 x, x - 7] stacked (mean, logvar)
        GraphBuilder d = GraphBuilder.create("vae_decoder");
        Dim b = Dim.symbolic("batch");
        String z = d.input("latent_sample", DataType.FLOAT, b, Dim.of(4), Dim.symbolic("h"), Dim.symbolic("w"));
        d.output(d.sub(d.mul(z, d.floatScalar(2f)), d.floatScalar(1f)), "sample", DataType.FLOAT, b, Dim.of(4),
                Dim.symbolic("h"), Dim.symbolic("w"));
        GraphBuilder e = GraphBuilder.create("vae_encoder");
        String x = e.input("sample", DataType.FLOAT, b, Dim.of(4), Dim.symbolic("h"), Dim.symbolic("w"));
        String moments = e.concat(1, e.mul(x, e.floatScalar(3f)), e.sub(x, e.floatScalar(7f)));
        e.output(moments, "latent_parameters", DataType.FLOAT, b, Dim.of(8), Dim.symbolic("h"), Dim.symbolic("w"));
        OnnxModel decoder = d.build();
        OnnxModel encoder = e.build();
        float scale = 1.5305f;
        float shift = 0.0609f;
        Tensor latents = Fixtures.random(6, 2, 4, 3, 3);
        Tensor images = Fixtures.random(7, 2, 4, 3, 3);
        try (OrtImageDecoder dec = OrtImageDecoder.builder(ort.load(decoder, "vae_decoder/model.onnx", CPU1))
                .scalingFactor(scale).shiftFactor(shift).build();
             OrtImageEncoder enc = OrtImageEncoder.builder(ort.load(encoder, "vae_encoder/model.onnx", CPU1))
                     .scalingFactor(scale).shiftFactor(shift).latentChannels(4).build();
             OrtImageEncoder raw = OrtImageEncoder.builder(ort.load(encoder, "vae_encoder/model.onnx", CPU1)).build()) {
            Tensor decoded = dec.decode(latents);
            assertThat(Fixtures.maxAbsDiff(decoded, latents.map(v -> 2 * (v / scale + shift) - 1))).isLessThan(1e-5f);
            Tensor encoded = enc.encode(images);
            assertThat(encoded.shape()).containsExactly(2, 4, 3, 3);
            assertThat(Fixtures.maxAbsDiff(encoded, images.map(v -> (3 * v - shift) * scale))).isLessThan(1e-5f);
            assertThat(raw.encode(images).shape()).containsExactly(2, 8, 3, 3);
            assertThat(dec.scalingFactor()).isEqualTo(scale);
            assertThat(enc.shiftFactor()).isEqualTo(shift);
        }
        try (OrtModel m = ort.load(decoder, "vae_decoder/model.onnx", CPU1)) {
            assertThatThrownBy(() -> OrtImageDecoder.builder(m).scalingFactor(0f))
                    .isInstanceOf(InvalidRequestException.class).hasMessageStartingWith("scalingFactor: expected a positive finite factor");
            assertThatThrownBy(() -> OrtImageDecoder.builder(m).input("latents").build())
                    .isInstanceOf(ModelLoadException.class)
                    .hasMessage("vae_decoder/model.onnx has no input 'latents'; its inputs are [latent_sample]");
        }
    }

    @Test
    void generatorRunsFromManyThreads() throws Exception {
        Conditioning c = conditioning(2);
        try (OrtGenerator g = OrtGenerator.create(ort.load(transformer("scalar", false), "t.onnx", CPU1),
                DenoiserBinding.flux(), Parameterization.VELOCITY, FORMAT)) {
            java.util.List<java.util.concurrent.Callable<Float>> jobs = new java.util.ArrayList<>();
            for (int i = 0; i < 16; i++) {
                Tensor x = Fixtures.random(100 + i, 2, 4, 2, 2);
                float[] s = {0.1f * (i % 5), 0.05f * i};
                jobs.add(() -> Fixtures.maxAbsDiff(g.predict(x, s, c), expected(x, s, c, null)));
            }
            var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
            try {
                for (var f : pool.invokeAll(jobs)) {
                    assertThat(f.get()).isLessThan(1e-5f);
                }
            } finally {
                pool.shutdown();
            }
        }
    }
}
