package io.senseflow.onnx.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.senseflow.SenseFlowException;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.GenerationRequest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bounded random-mutation fuzzing of whole model folders as {@link Models#load} reads them (fixed seeds): each
 * iteration damages one random file of an SD3-like, a FLUX-like or an in-house fixture folder ({@code model.onnx}
 * files go to ONNX Runtime's own parser, tokenizers to the Rust tokenizers library, JSON to the SDK's parser) and loads
 * the folder. Loading must either fail with a {@link SenseFlowException} or succeed, and a folder that loads must
 * then generate or fail with a {@link SenseFlowException}: never another exception, an error, a hang or a crash of the
 * JVM (which would end the test run).
 */
class ModelFolderFuzzTest {
    static final LoadOptions OPTIONS = LoadOptions.builder()
            .sessionConfig(SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build()).build();

    @TempDir
    Path dir;

    record Outcome(int iterations, int refusedAtLoad, int refusedAtGeneration, int generated) {
    }

    private Outcome fuzz(int iterations, long seed) throws IOException {
        List<Path> folders = List.of(
                TinyModelFolders.sd3(dir.resolve("sd3")).dir(),
                TinyModelFolders.flux(dir.resolve("flux")).dir(),
                TinyModelFolders.senseflow(dir.resolve("senseflow"), 42).dir());
        Random r = new Random(seed);
        int atLoad = 0;
        int atGeneration = 0;
        int generated = 0;
        for (int i = 0; i < iterations; i++) {
            Path folder = folders.get(i % folders.size());
            List<Path> files;
            try (Stream<Path> s = Files.walk(folder)) {
                files = s.filter(Files::isRegularFile).sorted().toList();
            }
            Path victim = files.get(r.nextInt(files.size()));
            byte[] original = Files.readAllBytes(victim);
            boolean json = victim.getFileName().toString().endsWith(".json");
            Files.write(victim, json && r.nextBoolean() ? Mutations.text(original, r) : Mutations.bytes(original, r));
            String what = "seed " + seed + " iteration " + i + ": " + folder.relativize(victim);
            try {
                LoadedModel m;
                try {
                    m = Models.load(folder, OPTIONS);
                } catch (SenseFlowException e) {
                    atLoad++;
                    continue;
                }
                try (m) {
                    m.pipeline().generate(GenerationRequest.builder().prompt("a red cat").numInferenceSteps(1).seed(i).build());
                    generated++;
                } catch (SenseFlowException e) {
                    atGeneration++;
                }
            } catch (Throwable t) {
                fail(what + ": " + t, t);
            } finally {
                Files.write(victim, original);
            }
        }
        return new Outcome(iterations, atLoad, atGeneration, generated);
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void damagedModelFoldersFailToLoadOrGenerateWithTypedErrors() throws IOException {
        Outcome o = fuzz(150, 21);
        System.out.println("ModelFolderFuzzTest: " + o);
        assertThat(o.refusedAtLoad()).isGreaterThan(o.iterations() / 4);
    }

    @Test
    @Tag("experiment")
    @Timeout(value = 90, unit = TimeUnit.MINUTES)
    void longFuzz() throws IOException {
        Outcome o = fuzz(3000, 1021);
        String line = "ModelFolderFuzzTest experiment: " + o;
        System.out.println(line);
        Files.writeString(Files.createDirectories(Path.of("target", "reliability")).resolve("folder-fuzz.txt"), line + "\n",
                StandardCharsets.UTF_8);
    }
}
