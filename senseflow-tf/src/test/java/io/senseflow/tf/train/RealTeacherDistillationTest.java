package io.senseflow.tf.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.model.Conditioning;
import io.senseflow.model.EpsilonToFlowAdapter;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.pipelines.LoadOptions;
import io.senseflow.onnx.pipelines.LoadedModel;
import io.senseflow.onnx.pipelines.Models;
import io.senseflow.onnx.pipelines.SdxlUnet;
import io.senseflow.onnx.runtime.DenoiserBinding;
import io.senseflow.onnx.runtime.OrtEpsilonModel;
import io.senseflow.onnx.runtime.OrtFluxGenerator;
import io.senseflow.onnx.runtime.OrtGenerator;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.export.OnnxExport;
import io.senseflow.tf.testing.MlpGraph;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.EpsilonFlowModule;
import io.senseflow.train.ModuleInputs;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A SenseFlow distillation run of 20 iterations straight from each shared Optimum folder's denoiser (no graph edits):
 * the teacher in ONNX Runtime on the folder's graph, G and F from {@link StudentModules} on the same graph as exported
 * (symbolic sizes, SDXL's rank-0 timestep, FLUX's packed tokens with its ids bound at import), every generator term
 * (DMD, ISG, GAN on a small discriminator), IDA; then the student exported, loaded by {@code Models.load} as a SenseFlow
 * checkpoint, and its first call compared with G's.
 */
class RealTeacherDistillationTest {
    static final int ITERATIONS = 20;
    static final long SEED = 31;

    @TempDir
    Path dir;

    /** What differs between the families. */
    record Case(String name, String denoiser, Family family, int batch, int[] sample, int textLength, int textWidth,
                int pooledWidth, boolean timeIds) {
    }

    static DistillationConfig config(Case c) {
        DistillationConfig base = DistillationConfig.preset(Recipe.SENSEFLOW, c.family());
        return base.toBuilder().batchSize(c.batch()).iterations(ITERATIONS).seed(SEED).ttur(2)
                .optimizers(AdamWConfig.constant(1e-4)).build();
    }

    static Conditioning conditioning(Case c, long seed, int prompt, int batch) {
        Tensor tok = GaussianNoise.sample(seed, prompt, 50, batch, c.textLength(), c.textWidth());
        Tensor pool = GaussianNoise.sample(seed, prompt, 51, batch, c.pooledWidth());
        Conditioning cond = Conditioning.of(tok, pool);
        return c.timeIds() ? cond.withExtra(SdxlUnet.TIME_IDS, SdxlUnet.timeIds(batch, 64, 64)) : cond;
    }

    /** Seeded latents and conditionings of the case's shapes (cached, so no prompt encoder is needed). */
    static DistillationDataset dataset(Case c) {
        return new DistillationDataset() {
            @Override
            public DistillationBatch batch(long iteration, int batchSize) {
                int prompt = (int) (iteration % 3);
                int[] shape = new int[c.sample().length + 1];
                shape[0] = batchSize;
                System.arraycopy(c.sample(), 0, shape, 1, c.sample().length);
                Tensor real = GaussianNoise.sample(SEED, iteration, 52, shape).scale(0.5f);
                return new DistillationBatch(List.of(), conditioning(c, SEED, prompt, batchSize),
                        conditioning(c, SEED, 99, batchSize), real);
            }

            @Override
            public int[] sampleShape() {
                return c.sample().clone();
            }
        };
    }

    /** The Optimum folder, writable, with the CLIP tokenizer.json files Optimum does not write (see the script). */
    Path folder(Case c, String name) throws IOException {
        Path f = Fixtures.copy("optimum-exports/" + c.name() + "/onnx", dir.resolve(name));
        for (String tok : new String[] {"tokenizer", "tokenizer_2"}) {
            String res = "/optimum-tokenizers/" + c.name() + "/" + tok + "/tokenizer.json";
            try (InputStream in = RealTeacherDistillationTest.class.getResourceAsStream(res)) {
                if (in != null) {
                    Files.copy(in, f.resolve(tok).resolve("tokenizer.json"));
                }
            }
        }
        return f;
    }

    record Run(List<IterationMetrics> metrics, double seconds, long trainable) {
    }

    /**
     * Runs the distillation, then the case's export checks ({@link #checks}) while G is still open.
     *
     * @param flow G and F as the distiller sees them (flow convention)
     */
    Run distill(Case c, StudentModules.Builder students, Generator teacher,
                Function<DifferentiableModule, DifferentiableModule> flow) {
        DistillationConfig cfg = config(c);
        int dim = 1;
        for (int d : c.sample()) {
            dim *= d;
        }
        MlpSpec disc = MlpSpec.discriminator(dim, c.pooledWidth(), 16, 1);
        List<IterationMetrics> metrics = new ArrayList<>();
        long start = System.nanoTime();
        try (StudentModules s = students.batchSize(c.batch()).generatorOptimizer(cfg.generatorOptimizer())
                .fakeScoreOptimizer(cfg.fakeScoreOptimizer())
                .sessionOptions(TfSessionOptions.defaults().withIntraOpThreads(2).withGraphOptimizations(false)).build();
             TfModule d = MlpGraph.module(disc, new Mlp(disc, 4, null).parameters().snapshot(),
                     cfg.discriminatorOptimizer(), s.workspace(), "discriminator")) {
            Distiller distiller = Distiller.builder().config(cfg).teacher(teacher)
                    .generator(flow.apply(s.generator())).fakeScore(flow.apply(s.fakeScore())).discriminator(d)
                    .dataset(dataset(c)).listener(m -> {
                        metrics.add(m);
                        System.out.printf("%s iteration %d: %s (%.1f s)%n", c.name(), m.iteration(), m.losses(),
                                (System.nanoTime() - start) / 1e9);
                    }).build();
            distiller.run(CancellationToken.none());
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(metrics).hasSize(ITERATIONS);
            for (IterationMetrics m : metrics) {
                m.losses().forEach((k, v) -> assertThat(v).as(c.name() + " iteration " + m.iteration() + " " + k)
                        .isFinite());
            }
            assertThat(metrics.stream().filter(IterationMetrics::generatorUpdated).count()).isEqualTo(ITERATIONS / 2);
            assertThat(metrics.get(0).losses()).containsKeys("dmd", "isg", "gan", "fake_score");
            exported = OnnxExport.of(s.studentGraph(), s.generator().parameters());
            studentGraph = s.studentGraph();
            gCall = (x, sig, cond) -> flow.apply(s.generator()).forward(ModuleInputs.denoiser(x, sig, cond));
            checks.forEach(Runnable::run);
            return new Run(metrics, seconds, s.generator().parameters().parameterCount());
        }
    }

    interface Call {
        Tensor apply(Tensor x, float[] sigmas, Conditioning c);
    }

    OnnxExport exported;
    OnnxModel studentGraph;
    Call gCall;
    final List<Runnable> checks = new ArrayList<>();

    static double relError(Tensor want, Tensor got) {
        assertThat(got.shape()).containsExactly(want.shape());
        return MlpGraph.maxDiff(want, got) / want.maxAbs();
    }

    /** Loads a folder as a SenseFlow checkpoint and compares its generator's first call with G's. */
    void compareLoaded(Case c, Path folder, LoadOptions.Builder options, Function<Tensor, Tensor> toLoaded,
                       Function<Tensor, Tensor> fromLoaded, Conditioning extra) {
        int[] shape = new int[c.sample().length + 1];
        shape[0] = c.batch();
        System.arraycopy(c.sample(), 0, shape, 1, c.sample().length);
        Tensor x = GaussianNoise.sample(SEED + 1, 0, 60, shape);
        float[] sig = new float[c.batch()];
        java.util.Arrays.fill(sig, 0.75f);
        Conditioning cond = conditioning(c, SEED + 1, 7, c.batch());
        Tensor g = gCall.apply(x, sig, cond);
        try (LoadedModel m = Models.load(folder, options.senseflowCheckpoint(true).build())) {
            assertThat(m.senseflowCheckpoint()).isTrue();
            Conditioning lc = extra == null ? cond : cond.withExtra("guidance", extra.extras().get("guidance"));
            Tensor got = fromLoaded.apply(m.generator().velocity(toLoaded.apply(x), sig, lc));
            double err = relError(g, got);
            System.out.printf("%s: loaded student (%s) vs G first call: %.3g relative%n", c.name(), folder.getFileName(),
                    err);
            assertThat(err).as(c.name() + " " + folder.getFileName()).isLessThan(1e-5);
        }
    }

    void report(Case c, Run r) {
        double[] dmd = r.metrics().stream().filter(m -> m.losses().containsKey("dmd"))
                .mapToDouble(m -> m.losses().get("dmd")).toArray();
        System.out.printf("%s: %d iterations in %.1f s (%.2f s/iteration incl. imports), %,d trainable parameters,"
                        + " dmd first %.4g last %.4g%n", c.name(), ITERATIONS, r.seconds(), r.seconds() / ITERATIONS,
                r.trainable(), dmd[0], dmd[dmd.length - 1]);
    }

    @Test
    void sdxlUnet() throws IOException {
        Case c = new Case("sdxl", "unet", Family.SDXL, 1, new int[] {4, 8, 8}, 16, 64, 40, true);
        Path original = folder(c, "original");
        DdpmSchedule table = DdpmSchedule.scaledLinear(0.00085, 0.012, 1000);
        OnnxModel unet = OnnxModel.read(original.resolve("unet/model.onnx"));
        checks.add(() -> {
            try {
                Path student = folder(c, "student");
                exported.writeModel(student.resolve("unet/model.onnx"));
                compareLoaded(c, student, LoadOptions.builder(), x -> x, y -> y, null);
                // tied parameters: the weights fit the original folder's UNet
                Path weights = dir.resolve("unet.safetensors");
                exported.writeSafetensors(weights);
                compareLoaded(c, original, LoadOptions.builder().weights("unet", weights), x -> x, y -> y, null);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try (OrtRuntime ort = OrtRuntime.create();
             EpsilonToFlowAdapter teacher = new EpsilonToFlowAdapter(new SdxlUnet(OrtEpsilonModel.create(
                     ort.load(unet, "teacher", SessionConfig.defaults()), DenoiserBinding.sdxlUnet(),
                     new LatentFormat(4, 8, 1))), table)) {
            Run r = distill(c, StudentModules.builder(unet, DenoiserSpec.sdxl()).tieSharedParameters(true), teacher,
                    m -> new EpsilonFlowModule(m, table));
            // tied: the 110 GroupNorm scale/shift copies (3,200 values) stay Identity nodes of their initializers;
            // untied (the default, as PyTorch trains them) the UNet has 469,420 (RealGraphModulesTest)
            assertThat(r.trainable()).isEqualTo(466_220);
            report(c, r);
        }
    }

    @Test
    void sd3Transformer() throws IOException {
        Case c = new Case("sd3", "transformer", Family.SD35_MEDIUM, 2, new int[] {16, 8, 8}, 20, 80, 64, false);
        Path original = folder(c, "original");
        OnnxModel transformer = OnnxModel.read(original.resolve("transformer/model.onnx"));
        checks.add(() -> {
            try {
                Path student = folder(c, "student");
                exported.writeModel(student.resolve("transformer/model.onnx"));
                compareLoaded(c, student, LoadOptions.builder(), x -> x, y -> y, null);
                Path weights = dir.resolve("transformer.safetensors");
                exported.writeSafetensors(weights);
                compareLoaded(c, original, LoadOptions.builder().weights("transformer", weights), x -> x, y -> y, null);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        try (OrtRuntime ort = OrtRuntime.create();
             OrtGenerator teacher = OrtGenerator.create(ort.load(transformer, "teacher", SessionConfig.defaults()),
                     DenoiserBinding.sd3(), Parameterization.VELOCITY, new LatentFormat(16, 8, 2))) {
            Run r = distill(c, StudentModules.builder(transformer, DenoiserSpec.sd3()), teacher, m -> m);
            // PyTorch's SD3Transformer2DModel of this config has 150,544 parameters; the sin-cos table
            // pos_embed.pos_embed (exported as onnx::Slice_1139, 1 x 24 x 24 x 36 = 20,736 values) is a buffer
            assertThat(r.trainable()).isEqualTo(150_544);
            report(c, r);
        }
    }

    @Test
    void fluxDevTransformer() throws IOException {
        Case c = new Case("flux_dev", "transformer", Family.FLUX, 2, new int[] {16, 64}, 24, 48, 24, false);
        Path original = folder(c, "original");
        OnnxModel transformer = OnnxModel.read(original.resolve("transformer/model.onnx"));
        Conditioning guidance = Conditioning.of(Tensor.zeros(c.batch(), 1, 1), null)
                .withExtra("guidance", Tensor.full(3.5f, c.batch()));
        Function<Tensor, Tensor> unpack = x -> OrtFluxGenerator.unpack(x, 16, 8, 8);
        checks.add(() -> {
            try {
                Path student = folder(c, "student");
                exported.writeModel(student.resolve("transformer/model.onnx"));
                compareLoaded(c, student, LoadOptions.builder(), unpack, OrtFluxGenerator::pack, null);
                // tied parameters: the weights fit the original graph, whose guidance input gets the bound 3.5
                Path weights = dir.resolve("transformer.safetensors");
                exported.writeSafetensors(weights);
                compareLoaded(c, original, LoadOptions.builder().weights("transformer", weights), unpack,
                        OrtFluxGenerator::pack, guidance);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        long[] ids = new long[16 * 3];
        for (int i = 0; i < 16; i++) {
            ids[3 * i + 1] = i / 4;
            ids[3 * i + 2] = i % 4;
        }
        try (OrtRuntime ort = OrtRuntime.create();
             OrtGenerator teacher = OrtGenerator.create(ort.load(transformer, "teacher", SessionConfig.defaults()),
                     DenoiserBinding.flux().toBuilder().channelAxis(2).constantIds("img_ids", ids, 16, 3)
                             .constantIds("txt_ids", new long[24 * 3], 24, 3).build(),
                     Parameterization.VELOCITY, new LatentFormat(64, 16, 1))) {
            Run r = distill(c, StudentModules.builder(transformer, DenoiserSpec.flux()).bindConstant("guidance", 3.5f)
                    .fluxIds(8, 8, 24).tieSharedParameters(true), teacher, m -> m);
            // tied: the 12 RMSNorm q/k weights are one initializer and 11 Identity copies in the export
            assertThat(r.trainable()).isEqualTo(167_824 - 11 * 12);
            report(c, r);
        }
    }
}
