package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.ModelFamily;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The front door's must-show, through the CLI as a user types it, on each shared Optimum folder (sd3, flux_dev, sdxl,
 * exactly as Optimum wrote them): {@code senseflow distill --teacher DIR --prompts FILE --iterations 30 --out RUN}
 * ends and exports {@code RUN/student}; the same command stopped at iteration {@value #STOP} (as an interruption
 * would) and continued with {@code senseflow distill --resume RUN} alone ends with the same student, bit for bit
 * ({@code model.onnx} of the denoiser), and the same {@code losses.csv}; the exported folder loads with {@link Models#load} as a 4-step SenseFlow checkpoint of the teacher's family
 * and generates, and {@code senseflow generate --model RUN/student} writes an image.
 *
 * <p>On the SD3 folder, between the interruption and the resume, every kind of bad input the front door refuses is
 * tried against the stopped run ({@link #refusedCommandsLeaveTheRunAsItWas}).
 *
 * <p>Small on purpose (64 x 64 images, batch 1, 24 T5 tokens, 2 threads): the cost is TensorFlow building the
 * imported graphs, not the iterations.
 */
class DistillFrontDoorTest {
    static final int ITERATIONS = 30;
    static final int STOP = 17;

    @TempDir
    Path dir;

    @Test
    void sd3() throws IOException {
        distilInterruptResumeExportGenerate("sd3", ModelFamily.SD3, "transformer");
    }

    @Test
    void fluxDev() throws IOException {
        distilInterruptResumeExportGenerate("flux_dev", ModelFamily.FLUX, "transformer");
    }

    @Test
    void sdxl() throws IOException {
        distilInterruptResumeExportGenerate("sdxl", ModelFamily.SDXL, "unet");
    }

    void distilInterruptResumeExportGenerate(String name, ModelFamily family, String denoiser) throws IOException {
        long start = System.nanoTime();
        Path teacher = Fixtures.copy("optimum-exports/" + name + "/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle on a blue square\nthree small yellow triangles\nune étoile verte\n");
        List<String> common = new ArrayList<>(List.of("--prompts", prompts.toString(), "--iterations",
                Integer.toString(ITERATIONS), "--size", "64x64", "--batch", "1", "--threads", "2"));
        if (family != ModelFamily.SDXL) {
            common.addAll(List.of("--t5-length", "24"));
        }

        Path runA = dir.resolve("run-a");
        DistillCommandTest.Run a = distill(common, "--teacher", teacher.toString(), "--quiet", "--out", runA.toString());
        assertThat(a.code()).as(a.err()).isZero();
        assertThat(a.out()).contains("student:").contains(ITERATIONS + " iterations");
        long uninterrupted = System.nanoTime();

        Path runB = dir.resolve("run-b");
        DistillCommandTest.Run b = distill(common, "--teacher", teacher.toString(), "--quiet", "--stop-at",
                Integer.toString(STOP), "--out", runB.toString());
        assertThat(b.code()).as(b.err()).isZero();
        assertThat(b.out()).contains("stopped at iteration " + STOP + " of " + ITERATIONS)
                .contains("--resume " + runB);
        assertThat(runB.resolve("student")).doesNotExist();
        Map<String, byte[]> stopped = files(runB);
        assertThat(stopped).containsKeys("run.json", "losses.csv", "curves.png");
        assertThat(Files.readAllLines(runB.resolve("losses.csv")).get(Files.readAllLines(runB.resolve("losses.csv"))
                .size() - 1)).startsWith((STOP - 1) + ",");

        if (family == ModelFamily.SD3) {
            refusedCommandsLeaveTheRunAsItWas(teacher, prompts, runB, stopped);
        }

        // the resume is the folder alone: teacher, prompts, size, T5 length, threads and config come from run.json
        DistillCommandTest.Run c = DistillCommandTest.run("distill", "--resume", runB.toString());
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(c.err()).contains("resuming at iteration " + STOP);
        assertThat(c.out()).contains("student:");
        assertThat(Files.readAllBytes(runB.resolve("run.json"))).as("run.json kept").isEqualTo(stopped.get("run.json"));

        assertThat(Files.readAllBytes(runB.resolve("losses.csv"))).as(name + " losses.csv")
                .isEqualTo(Files.readAllBytes(runA.resolve("losses.csv")));
        // the curves are drawn from losses.csv, earlier runs' rows included: the resumed run's chart is the same file
        assertThat(Files.readAllBytes(runB.resolve("curves.png"))).as(name + " curves.png")
                .isEqualTo(Files.readAllBytes(runA.resolve("curves.png")));
        assertThat(io.senseflow.image.Image.read(runA.resolve("curves.png")).width()).isGreaterThan(100);
        List<String> losses = Files.readAllLines(runA.resolve("losses.csv"));
        assertThat(losses.get(0)).isEqualTo("iteration,term,value");
        Map<String, Integer> terms = new TreeMap<>();
        for (String l : losses.subList(1, losses.size())) {
            String[] f = l.split(",");
            assertThat(Double.parseDouble(f[2])).as(l).isFinite();
            terms.merge(f[1], 1, Integer::sum);
        }
        // every iteration updates the fake score; the generator terms come every TTUR-th iteration
        assertThat(terms).containsKeys("dmd", "isg", "gan", "fake_score").containsEntry("fake_score", ITERATIONS);
        assertThat(Long.parseLong(losses.get(losses.size() - 1).split(",")[0])).isEqualTo(ITERATIONS - 1);
        byte[] studentA = Files.readAllBytes(runA.resolve("student").resolve(denoiser).resolve("model.onnx"));
        byte[] studentB = Files.readAllBytes(runB.resolve("student").resolve(denoiser).resolve("model.onnx"));
        assertThat(studentB).as(name + " resumed student, bit for bit").isEqualTo(studentA);
        assertThat(studentA).as("the student is not the teacher")
                .isNotEqualTo(Files.readAllBytes(teacher.resolve(denoiser).resolve("model.onnx")));

        Path student = runB.resolve("student");
        LoadOptions options = LoadOptions.builder().sessionConfig(SessionConfig.builder().intraOpThreads(1)
                .interOpThreads(1).build()).t5SequenceLength(24).build();
        try (LoadedModel m = Models.load(student, options)) {
            assertThat(m.family()).isEqualTo(family);
            assertThat(m.senseflowCheckpoint()).isTrue();
            assertThat(m.defaults().steps()).isEqualTo(4);
            GenerationResult g = m.pipeline().generate(GenerationRequest.builder()
                    .prompts(List.of("a red circle on a blue square")).width(64).height(64).seed(3).build());
            assertThat(g.images()).hasSize(1);
            assertThat(g.images().get(0).width()).isEqualTo(64);
            assertThat(g.latents().maxAbs()).isFinite().isPositive();
        }
        Path image = dir.resolve("out.png");
        List<String> gen = new ArrayList<>(List.of("generate", "--model", student.toString(), "--prompt",
                "three small yellow triangles", "--width", "64", "--height", "64", "--threads", "1", "--quiet", "--out",
                image.toString()));
        if (family != ModelFamily.SDXL) {
            gen.addAll(List.of("--t5-length", "24"));
        }
        DistillCommandTest.Run g = DistillCommandTest.run(gen.toArray(String[]::new));
        assertThat(g.code()).as(g.err()).isZero();
        BufferedImage png = ImageIO.read(image.toFile());
        assertThat(png.getWidth()).isEqualTo(64);
        assertThat(png.getHeight()).isEqualTo(64);
        System.out.printf("%s: uninterrupted run %.1f s, whole case %.1f s%n", name,
                (uninterrupted - start) / 1e9, (System.nanoTime() - start) / 1e9);
    }

    /**
     * Bad input, each refused by a typed error (exit code of an invalid request or a bad model, no stack trace) that
     * names the file or field and what was expected, before any work: the stopped run's folder keeps every file byte
     * for byte, and no new folder appears.
     */
    void refusedCommandsLeaveTheRunAsItWas(Path teacher, Path prompts, Path run, Map<String, byte[]> before)
            throws IOException {
        Path notAModel = Files.createDirectories(dir.resolve("photos"));
        Files.writeString(notAModel.resolve("cat.txt"), "meow");
        Path empty = dir.resolve("empty.txt");
        Files.writeString(empty, "# nothing but a comment\n\n");
        Path latin1 = dir.resolve("latin1.txt");
        Files.write(latin1, new byte[] {'c', 'a', 'f', (byte) 0xE9, '\n'});
        Path other = dir.resolve("other.txt");
        Files.writeString(other, "a blue square\n");
        Path thesis = Files.createDirectories(dir.resolve("thesis"));
        Files.writeString(thesis.resolve("chapter1.tex"), "precious");
        Path fresh = dir.resolve("fresh");
        Path flux = Fixtures.copy("optimum-exports/flux_dev/onnx", dir.resolve("other-teacher"));
        String r = run.toString();
        String[][] refused = {
            {"--teacher", notAModel.toString(), "--prompts", prompts.toString(), "--out", fresh.toString()},
            {"--teacher", teacher.toString(), "--prompts", empty.toString(), "--out", fresh.toString()},
            {"--teacher", teacher.toString(), "--prompts", latin1.toString(), "--out", fresh.toString()},
            {"--teacher", teacher.toString(), "--prompts", prompts.toString(), "--out", r},
            {"--teacher", teacher.toString(), "--prompts", prompts.toString(), "--out", thesis.toString()},
            {"--resume", thesis.toString()},
            {"--resume", r, "--prompts", empty.toString()},
            {"--resume", r, "--prompts", other.toString()},
            {"--resume", r, "--teacher", flux.toString()},
            {"--resume", r, "--recipe", "vanilla-dmd"},
            {"--resume", r, "--batch", "2"},
            {"--resume", r, "--size", "128x128"},
            {"--resume", r, "--t5-length", "32"},
        };
        String[] named = {notAModel.toString(), empty.toString(), latin1.toString(), "existing run",
            thesis.toString(), thesis.resolve("run.json").toString(), empty.toString(), "prompts_sha256",
            "teacher_fingerprint", "config", "config", "image_size", "t5_sequence_length"};
        String[] expected = {"model_index.json", "at least one prompt", "not UTF-8", "resume continues",
            "no run.json", "run.json", "at least one prompt", "the run's", "the run's", "only iterations may change",
            "only iterations may change", "the run's", "the run's"};
        for (int i = 0; i < refused.length; i++) {
            List<String> args = new ArrayList<>(List.of("distill"));
            args.addAll(List.of(refused[i]));
            DistillCommandTest.Run x = DistillCommandTest.run(args.toArray(String[]::new));
            String what = String.join(" ", refused[i]);
            assertThat(x.code()).as(what + "\n" + x.err()).isIn(SenseFlowCli.EXIT_INVALID, SenseFlowCli.EXIT_MODEL);
            assertThat(x.err()).as(what).contains("senseflow: error: ").contains(named[i]).contains(expected[i])
                    .doesNotContain("\tat ");
            assertThat(files(run)).as("the run's folder after: " + what).containsOnlyKeys(before.keySet())
                    .allSatisfy((k, v) -> assertThat(v).as(k).isEqualTo(before.get(k)));
            assertThat(fresh).as(what).doesNotExist();
        }
        assertThat(files(thesis)).containsOnlyKeys("chapter1.tex");
        assertThat(Files.readString(thesis.resolve("chapter1.tex"))).isEqualTo("precious");
    }

    static DistillCommandTest.Run distill(List<String> common, String... more) {
        List<String> args = new ArrayList<>(List.of("distill"));
        args.addAll(common);
        args.addAll(List.of(more));
        return DistillCommandTest.run(args.toArray(String[]::new));
    }

    /** Every file of a folder tree by relative path, with its bytes. */
    static Map<String, byte[]> files(Path root) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                out.put(root.relativize(p).toString().replace('\\', '/'), Files.readAllBytes(p));
            }
        }
        return out;
    }
}
