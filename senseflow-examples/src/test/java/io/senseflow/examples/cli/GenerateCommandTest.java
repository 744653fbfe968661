package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.image.Image;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.onnx.testing.Fixture;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.tensor.Tensor;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code senseflow generate} run in-process on the fixture folders: exit codes, PNGs, their metadata, messages. */
class GenerateCommandTest {
    @TempDir
    Path dir;

    /** One run: exit code, stdout, stderr. */
    record Run(int code, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = SenseFlowCli.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(List.of(args));
        int code = cl.execute(all.toArray(new String[0]));
        return new Run(code, out.toString(), err.toString());
    }

    /** Largest difference between two images' 8-bit channels. */
    static int maxByteDiff(Image a, Image b) {
        assertThat(a.width()).isEqualTo(b.width());
        assertThat(a.height()).isEqualTo(b.height());
        int worst = 0;
        for (int i = 0; i < a.rgb().length; i++) {
            worst = Math.max(worst, Math.abs((a.rgb()[i] & 0xff) - (b.rgb()[i] & 0xff)));
        }
        return worst;
    }

    @Test
    void generatesWithTheInHouseModel() {
        Fixture f = TinyModelFolders.senseflow(dir.resolve("tiny"), 5);
        Path png = dir.resolve("out/fox.png");
        Run r = run("generate", "--model", f.dir().toString(), "--prompt", "a red fox", "--seed", "3", "--threads", "1",
                "--out", png.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out().trim()).isEqualTo(png.toString());
        assertThat(r.err()).contains("sampling [").contains("3/3 steps").contains("it/s").contains("senseflow: senseflow (SenseFlow checkpoint) from");
        Image image = Image.read(png);
        assertThat(image.width()).isEqualTo(16);
        Map<String, String> meta = image.metadata();
        assertThat(meta).containsEntry("prompt", "a red fox").containsEntry("seed", "3").containsEntry("steps", "3")
                .containsEntry("model", "tiny-senseflow").containsEntry("model_family", "senseflow")
                .containsEntry("senseflow_checkpoint", "true").containsEntry("guidance_mode", "none")
                .containsEntry("width", "16").containsEntry("height", "16").containsEntry("sigmas", "[1.0, 0.75, 0.5, 0.0]");
        // the same pixels as the library gives in-process, bit for bit (PNG is lossless)
        try (LoadedModel m = Models.load(f.dir(), LoadOptions.builder()
                .sessionConfig(SessionConfig.builder().intraOpThreads(1).build()).build())) {
            Image direct = m.pipeline().generate(GenerationRequest.builder().prompt("a red fox").seed(3).build()).images().get(0);
            assertThat(image.rgb()).isEqualTo(direct.rgb());
        }
        // a batch into a folder: one file per image, each with its own sample index
        Path folder = dir.resolve("batch");
        Run b = run("generate", "--model", f.dir().toString(), "--prompt", "a red fox", "--prompt", "a blue dog", "--batch", "2",
                "--seed", "3", "--threads", "1", "--quiet", "--out", folder.toString());
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.err()).doesNotContain("sampling [");
        assertThat(folder.resolve("senseflow-3-000.png")).exists();
        Image last = Image.read(folder.resolve("senseflow-3-003.png"));
        assertThat(last.metadata()).containsEntry("prompt", "a blue dog").containsEntry("sample_index", "3");
        assertThat(Image.read(folder.resolve("senseflow-3-000.png")).rgb()).isEqualTo(image.rgb());
    }

    @Test
    void generatesWithEachFamilyFixtureAsTheReferencePredicts() {
        Fixture sd3 = TinyModelFolders.sd3(dir.resolve("sd3"));
        Run r = run("generate", "--model", sd3.dir().toString(), "--prompt", "a photo of a cat", "--negative-prompt", "dog",
                "--steps", "2", "--guidance", "4", "--seed", "1", "--width", "48", "--threads", "1", "--out",
                dir.resolve("sd3.png").toString());
        assertThat(r.code()).as(r.err()).isZero();
        GenerationRequest req = GenerationRequest.builder().prompt("a photo of a cat").negativePrompt("dog").numInferenceSteps(2)
                .guidanceScale(4).seed(1).width(48).build();
        checkAgainstReference(sd3, req, dir.resolve("sd3.png"));
        assertThat(Image.read(dir.resolve("sd3.png")).metadata()).containsEntry("negative_prompt", "dog")
                .containsEntry("guidance_mode", "cfg").containsEntry("guidance_scale", "4.0").containsEntry("model_family", "sd3");

        Fixture flux = TinyModelFolders.flux(dir.resolve("flux"));
        r = run("generate", "--model", flux.dir().toString(), "--prompt", "a fox in the snow", "--steps", "2", "--seed", "2",
                "--height", "48", "--threads", "1", "--out", dir.resolve("flux.png").toString());
        assertThat(r.code()).as(r.err()).isZero();
        checkAgainstReference(flux, GenerationRequest.builder().prompt("a fox in the snow").numInferenceSteps(2).seed(2)
                .height(48).build(), dir.resolve("flux.png"));
        assertThat(Image.read(dir.resolve("flux.png")).metadata()).containsEntry("guidance_mode", "embedded")
                .containsEntry("guidance_scale", "3.5");

        Fixture sdxl = TinyModelFolders.sdxl(dir.resolve("sdxl"));
        r = run("generate", "--model", sdxl.dir().toString(), "--prompt", "a big green tree", "--sigmas", "0.9,0.6,0.3",
                "--seed", "4", "--threads", "1", "--out", dir.resolve("sdxl.png").toString());
        assertThat(r.code()).as(r.err()).isZero();
        checkAgainstReference(sdxl, GenerationRequest.builder().prompt("a big green tree").sigmas(0.9, 0.6, 0.3).seed(4).build(),
                dir.resolve("sdxl.png"));
        assertThat(Image.read(dir.resolve("sdxl.png")).metadata()).containsEntry("steps", "3")
                .containsEntry("sigmas", "[0.9, 0.6, 0.3, 0.0]");
    }

    private static void checkAgainstReference(Fixture f, GenerationRequest request, Path png) {
        Tensor expected = f.reference().predict(request).images();
        Image written = Image.read(png);
        assertThat(maxByteDiff(written, Image.fromTensor(expected, 0, Map.of()))).isLessThanOrEqualTo(1);
    }

    @Test
    void torchNoiseReproducesTheDiffusersReferenceFromTheSeedAlone() {
        // the shared SD3 Optimum export as shipped; its reference run p0_s3_96x64 started from
        // torch.randn(..., generator=torch.Generator("cpu").manual_seed(4321)) (fixture README)
        Path model = io.senseflow.fixtures.Fixtures.path("optimum-exports/sd3/onnx");
        Path png = dir.resolve("boat.png");
        Run r = run("generate", "--model", model.toString(), "--prompt", "a small wooden boat on a calm lake",
                "--negative-prompt", "dark, noisy, distorted", "--steps", "3", "--guidance", "4.5", "--width", "64",
                "--height", "96", "--t5-length", "24", "--seed", "4321", "--noise", "torch", "--threads", "1", "--quiet",
                "--out", png.toString());
        assertThat(r.code()).as(r.err()).isZero();
        Image written = Image.read(png);
        assertThat(written.metadata()).containsEntry("noise", "torch").containsEntry("seed", "4321");
        try (io.senseflow.onnx.safetensors.SafetensorsFile ref = io.senseflow.onnx.safetensors.SafetensorsFile.open(
                io.senseflow.fixtures.Fixtures.path("optimum-exports/sd3/reference/ref.safetensors"))) {
            io.senseflow.tensor.Tensor want = ref.tensor("p0_s3_96x64/image");
            assertThat(written.width()).isEqualTo(64);
            assertThat(written.height()).isEqualTo(96);
            double worst = 0;
            for (int y = 0; y < 96; y++) {
                for (int x = 0; x < 64; x++) {
                    int rgb = written.rgbAt(x, y);
                    for (int c = 0; c < 3; c++) {
                        worst = Math.max(worst, Math.abs(((rgb >> (16 - 8 * c)) & 0xff) / 255.0 - want.at(0, y, x, c)));
                    }
                }
            }
            // 8-bit rounding of an image that matches to ~3e-6
            assertThat(worst).isLessThanOrEqualTo(0.5 / 255 + 1e-4);
        }
        Run sdk = run("generate", "--model", model.toString(), "--prompt", "a small wooden boat on a calm lake",
                "--steps", "1", "--width", "64", "--height", "64", "--t5-length", "24", "--seed", "4321", "--threads", "1",
                "--quiet", "--out", dir.resolve("sdk.png").toString());
        assertThat(sdk.code()).as(sdk.err()).isZero();
        assertThat(Image.read(dir.resolve("sdk.png")).metadata()).doesNotContainKey("noise");
    }

    @Test
    void badInputGivesClearMessagesAndExitCodes() {
        Fixture flux = TinyModelFolders.flux(dir.resolve("flux"));
        String model = flux.dir().toString();
        String out = dir.resolve("x.png").toString();

        Run missing = run("generate", "--prompt", "a cat", "--out", out);
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("Missing required option: '--model=DIR'");

        Run unknown = run("generate", "--model", model, "--prompt", "a", "--out", out, "--colour", "red");
        assertThat(unknown.code()).isEqualTo(2);
        assertThat(unknown.err()).contains("Unknown options: '--colour', 'red'");

        Run both = run("generate", "--model", model, "--prompt", "a", "--out", out, "--steps", "2", "--sigmas", "0.5");
        assertThat(both.code()).isEqualTo(2);
        assertThat(both.err()).contains("mutually exclusive");

        Run noFolder = run("generate", "--model", dir.resolve("nope").toString(), "--prompt", "a", "--out", out);
        assertThat(noFolder.code()).isEqualTo(3);
        assertThat(noFolder.err()).contains("senseflow: error: model folder").contains("does not exist");

        Run width = run("generate", "--model", model, "--prompt", "a", "--out", out, "--width", "40", "--threads", "1");
        assertThat(width.code()).isEqualTo(2);
        assertThat(width.err()).contains("senseflow: error: --width: expected a multiple of 16 (VAE factor 8 x patch 2), got 40");

        Run steps = run("generate", "--model", model, "--prompt", "a", "--out", out, "--steps", "0");
        assertThat(steps.code()).isEqualTo(2);
        assertThat(steps.err()).contains("--steps: expected at least 1, got 0");

        Run sigmas = run("generate", "--model", model, "--prompt", "a", "--out", out, "--sigmas", "0.5,0.9");
        assertThat(sigmas.code()).isEqualTo(2);
        assertThat(sigmas.err()).contains("--sigmas: expected strictly decreasing values");

        Run provider = run("generate", "--model", model, "--prompt", "a", "--out", out, "--provider", "tpu");
        assertThat(provider.code()).isEqualTo(2);
        assertThat(provider.err()).contains("--provider: expected cpu or cuda, got tpu");

        Run family = run("generate", "--model", model, "--prompt", "a", "--out", out, "--family", "sd4");
        assertThat(family.code()).isEqualTo(2);
        assertThat(family.err()).contains("--family: expected one of [sd3, flux, sdxl, senseflow], got sd4");

        Run noise = run("generate", "--model", model, "--prompt", "a", "--out", out, "--noise", "numpy");
        assertThat(noise.code()).isEqualTo(2);
        assertThat(noise.err()).contains("--noise: expected one of [sdk, torch], got numpy");

        Run noSub = run();
        assertThat(noSub.code()).isEqualTo(2);
        assertThat(noSub.err()).contains("missing subcommand");
        assertThat(Files.exists(Path.of(out))).isFalse();
    }

    @Test
    void cudaFallsBackToCpuWhenUnavailable() {
        Fixture sdxl = TinyModelFolders.sdxl(dir.resolve("sdxl"), io.senseflow.onnx.testing.FixtureOptions.defaults()
                .withSenseflowCheckpoint(true));
        Path png = dir.resolve("cuda.png");
        Run r = run("generate", "--model", sdxl.dir().toString(), "--prompt", "a cat", "--steps", "1", "--provider", "cuda",
                "--threads", "1", "--out", png.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(Image.read(png).metadata()).containsEntry("model_family", "sdxl").containsEntry("senseflow_checkpoint", "true");
    }
}
