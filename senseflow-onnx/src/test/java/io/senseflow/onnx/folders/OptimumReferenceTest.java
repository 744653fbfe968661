package io.senseflow.onnx.folders;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.fixtures.Fixtures;
import io.senseflow.image.Image;
import io.senseflow.noise.NoiseSource;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.tensor.Tensor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/**
 * The shared Optimum exports ({@code optimum-exports/<case>/onnx}, exactly as Optimum wrote them: the CLIP tokenizer
 * folders have only {@code vocab.json} + {@code merges.txt}) load with {@link Models#load} and reproduce every
 * reference run of the PyTorch diffusers pipelines ({@code reference/ref.safetensors}, see the fixture README): both
 * sizes and both step counts, final latents within 2e-4 and images within 1e-4 max abs; first with the stored unit
 * noise passed as explicit latents, then from the seed alone with {@link NoiseSource#TORCH}.
 */
class OptimumReferenceTest {
    /** NOISE_SEED of the fixture README. */
    static final long NOISE_SEED = 4321;
    static final String[] PROMPTS = {"a small wooden boat on a calm lake", "a snowy mountain village under a starry sky"};
    static final String NEGATIVE = "dark, noisy, distorted";
    static final String[] RUNS = {"p0_s3_64x64", "p0_s6_64x64", "p1_s3_64x64", "p1_s6_64x64", "p0_s3_96x64"};
    static final LoadOptions OPTIONS = LayoutPipelineTest.OPTIONS.toBuilder().t5SequenceLength(24).build();

    @Test
    void sd3() {
        reproduce("sd3", ModelFamily.SD3, 4.5, true);
    }

    @Test
    void fluxDev() {
        reproduce("flux_dev", ModelFamily.FLUX, 4.0, false);
    }

    @Test
    void everyTokenizerFolderGivesThePipelinesIdsWithTheLoadersChoiceOfTokenizer() throws Exception {
        String[][] folders = {{"sd3", "tokenizer", "<|endoftext|>"}, {"sd3", "tokenizer_2", "!"}, {"sd3", "tokenizer_3", null},
            {"flux_dev", "tokenizer", "<|endoftext|>"}, {"flux_dev", "tokenizer_2", null},
            {"sdxl", "tokenizer", "<|endoftext|>"}, {"sdxl", "tokenizer_2", "!"}};
        for (String[] f : folders) {
            boolean t5 = f[2] == null;
            ModelFolder folder = ModelFolder.open(Fixtures.path("optimum-exports/" + f[0] + "/onnx"));
            // the same call the family layouts make (Sd3Layout, FluxLayout, SdxlLayout)
            LayoutContext ctx = new LayoutContext(folder, OPTIONS, null);
            io.senseflow.model.Tokenizer tok = t5 ? ctx.tokenizer(f[1], 24, 24, null, 0)
                    : ctx.tokenizer(f[1], null, Sd3Layout.CLIP_LENGTH, f[2], 0);
            try (SafetensorsFile ref = SafetensorsFile.open(Fixtures.path("optimum-exports/" + f[0] + "/reference/ref.safetensors"))) {
                assertThat(tok).as(f[0] + "/" + f[1]).isInstanceOf(t5 ? io.senseflow.onnx.tokenizer.HfTokenizer.class
                        : io.senseflow.onnx.tokenizer.ClipBpeTokenizer.class);
                String[] keys = {"p0", "p1", "neg"};
                String[] texts = {PROMPTS[0], PROMPTS[1], NEGATIVE};
                for (int i = 0; i < keys.length; i++) {
                    long[] want = ref.longs("tokens/" + f[1] + "/" + keys[i]);
                    assertThat(tok.tokenize(List.of(texts[i])).ids()[0]).as(f[0] + "/" + f[1] + " " + keys[i])
                            .containsExactly(want);
                }
            } finally {
                if (tok instanceof AutoCloseable c) {
                    c.close();
                }
            }
        }
    }

    @Test
    void aTokenizerJsonIsPreferredOverTheSlowFiles(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        // T5's tokenizer.json dropped into a CLIP folder: the loader reads it (HfTokenizer), not vocab.json + merges.txt,
        // and so finds no "<|endoftext|>" pad token in it
        Path copy = Fixtures.copy("optimum-exports/sd3/onnx", tmp.resolve("sd3"));
        Files.copy(copy.resolve("tokenizer_3/tokenizer.json"), copy.resolve("tokenizer/tokenizer.json"));
        LayoutContext ctx = new LayoutContext(ModelFolder.open(copy), OPTIONS, null);
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> ctx.tokenizer("tokenizer", null, Sd3Layout.CLIP_LENGTH, "<|endoftext|>", 0))
                .isInstanceOf(io.senseflow.ModelLoadException.class)
                .hasMessage(copy.toAbsolutePath().resolve("tokenizer/tokenizer.json") + ": pad_token of "
                        + "tokenizer_config.json \"<|endoftext|>\" is neither in the vocabulary nor an added token");
        assertThat(ctx.tokenizer("tokenizer_2", null, Sd3Layout.CLIP_LENGTH, "!", 0))
                .isInstanceOf(io.senseflow.onnx.tokenizer.ClipBpeTokenizer.class);
    }

    @Test
    void torchNoiseDrawsTheWholeBatchAsOneTensorAsDiffusersDoes() {
        Path folder = Fixtures.path("optimum-exports/flux_dev/onnx");
        try (LoadedModel model = Models.load(folder, OPTIONS);
             SafetensorsFile ref = SafetensorsFile.open(Fixtures.path("optimum-exports/flux_dev/reference/ref.safetensors"))) {
            GenerationRequest.Builder b = GenerationRequest.builder().prompts(List.of(PROMPTS)).numInferenceSteps(3)
                    .guidanceScale(4.0).width(64).height(64).decode(false);
            GenerationResult seeded = model.pipeline().generate(b.seed(NOISE_SEED).noiseSource(NoiseSource.TORCH).build());
            // diffusers: randn_tensor((2, 16, 8, 8), generator) -- one draw of the batch shape, not one per sample
            Tensor batchNoise = new io.senseflow.noise.TorchGenerator(NOISE_SEED).randn(2, 16, 8, 8);
            GenerationResult explicit = model.pipeline().generate(b.noiseSource(NoiseSource.COUNTER).latents(batchNoise).build());
            assertThat(seeded.latents().toArray()).containsExactly(explicit.latents().toArray());
            // its first 1024 values are the batch-of-one draw (a multiple of 16), so sample 0 is the p0 reference run
            assertThat(maxAbs(seeded.latents().sample(0), ref.tensor("p0_s3_64x64/latents_unpacked"))).isLessThanOrEqualTo(2e-4);
            assertThat(maxAbs(seeded.latents().sample(1), ref.tensor("p1_s3_64x64/latents_unpacked"))).isGreaterThan(1e-2);
        }
    }

    @Test
    void sdxl() {
        reproduce("sdxl", ModelFamily.SDXL, 6.0, true);
    }

    static void reproduce(String name, ModelFamily family, double guidance, boolean negative) {
        Path folder = Fixtures.path("optimum-exports/" + name + "/onnx");
        for (String clip : List.of("tokenizer", "tokenizer_2")) {
            Path vocab = folder.resolve(clip).resolve("vocab.json");
            if (Files.exists(vocab)) {
                assertThat(folder.resolve(clip).resolve("tokenizer.json")).as("shipped as Optimum wrote it").doesNotExist();
            }
        }
        StringBuilder report = new StringBuilder(name);
        try (LoadedModel model = Models.load(folder, OPTIONS);
             SafetensorsFile ref = SafetensorsFile.open(Fixtures.path("optimum-exports/" + name + "/reference/ref.safetensors"))) {
            assertThat(model.family()).isEqualTo(family);
            for (String run : RUNS) {
                String[] parts = run.split("_");
                String prompt = PROMPTS[parts[0].charAt(1) - '0'];
                int steps = Integer.parseInt(parts[1].substring(1));
                String size = parts[2];
                int height = Integer.parseInt(size.substring(0, size.indexOf('x')));
                int width = Integer.parseInt(size.substring(size.indexOf('x') + 1));
                GenerationRequest.Builder b = GenerationRequest.builder().prompt(prompt).numInferenceSteps(steps)
                        .guidanceScale(guidance).width(width).height(height);
                if (negative) {
                    b.negativePrompt(NEGATIVE);
                }
                Tensor wantLatents = ref.tensor(run + (family == ModelFamily.FLUX ? "/latents_unpacked" : "/latents"));
                Tensor wantImage = ref.tensor(run + "/image");

                GenerationResult explicit = model.pipeline().generate(b.latents(ref.tensor("noise_" + size)).build());
                double[] e = compare(model, explicit, wantLatents, wantImage, run + " (explicit noise)");

                GenerationResult seeded = model.pipeline().generate(b.latents(null).seed(NOISE_SEED)
                        .noiseSource(NoiseSource.TORCH).build());
                double[] s = compare(model, seeded, wantLatents, wantImage, run + " (torch noise, seed " + NOISE_SEED + ")");
                // the seed gives torch's noise bit for bit, so the run is the explicit-noise run exactly
                assertThat(seeded.latents().toArray()).as(run).containsExactly(explicit.latents().toArray());
                assertThat(seeded.images().get(0).metadata()).containsEntry("noise", "torch").containsEntry("seed", "4321");
                report.append(String.format(Locale.ROOT, "%n  %s: explicit noise latents %.1e image %.1e; torch noise "
                        + "latents %.1e image %.1e", run, e[0], e[1], s[0], s[1]));
            }
        }
        System.out.println(report);
    }

    /** @return max abs differences of latents and image; asserts the bounds */
    static double[] compare(LoadedModel model, GenerationResult r, Tensor wantLatents, Tensor wantImage, String what) {
        Tensor latents = r.latents();
        assertThat(latents.shape()).as(what).isEqualTo(wantLatents.shape());
        double dl = maxAbs(latents, wantLatents);
        // the float image as diffusers returns it: clip(decoded / 2 + 0.5, 0, 1), NHWC
        Tensor pixels = model.decoder().decode(latents);
        int h = pixels.dim(2);
        int w = pixels.dim(3);
        assertThat(wantImage.shape()).as(what).isEqualTo(new int[] {1, h, w, 3});
        double di = 0;
        Image png = r.images().get(0);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = png.rgbAt(x, y);
                for (int c = 0; c < 3; c++) {
                    float v = Math.min(1f, Math.max(0f, pixels.at(0, c, y, x) / 2 + 0.5f));
                    float want = wantImage.at(0, y, x, c);
                    di = Math.max(di, Math.abs(v - want));
                    int byteValue = (rgb >> (16 - 8 * c)) & 0xff;
                    assertThat(Math.abs(byteValue / 255.0 - want)).as(what + " 8-bit image").isLessThanOrEqualTo(0.5 / 255 + 1e-4);
                }
            }
        }
        assertThat(dl).as(what + " final latents, max abs").isLessThanOrEqualTo(2e-4);
        assertThat(di).as(what + " image, max abs").isLessThanOrEqualTo(1e-4);
        return new double[] {dl, di};
    }

    static double maxAbs(Tensor a, Tensor b) {
        double m = 0;
        for (int i = 0; i < a.size(); i++) {
            m = Math.max(m, Math.abs(a.get(i) - b.get(i)));
        }
        return m;
    }
}
