package io.senseflow.onnx.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.ImageDecoder;
import io.senseflow.model.ImageEncoder;
import io.senseflow.model.PromptEncoder;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.tensor.Tensor;
import java.nio.file.Path;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every native owner a loaded model hands out: closing it twice (and its parts, in any order) is harmless, and any
 * use after closing, through the model or through a component kept from before, throws
 * {@link IllegalStateException} saying what is closed, instead of reaching freed native memory. (Single owners are
 * covered where they are tested: {@code OrtModelTest}, {@code SafetensorsTest}, {@code HfTokenizerTest},
 * {@code PipelineGuardsTest}.)
 */
class ClosingTest {
    @TempDir
    Path dir;

    private static void assertClosed(String what, ThrowingCallable use) {
        assertThatThrownBy(use).as(what).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void aClosedModelAndEveryComponentTakenFromItRefuseUseAndCloseAgainQuietly() {
        TinyModelFolders.sd3(dir.resolve("sd3"));
        LoadedModel m = Models.load(dir.resolve("sd3"), ConcurrentGenerationTest.OPTIONS);
        TextToImagePipeline pipeline = m.pipeline();
        PromptEncoder text = m.promptEncoder();
        Generator generator = m.generator();
        ImageDecoder decoder = m.decoder();
        ImageEncoder encoder = m.imageEncoder().orElseThrow();
        OrtRuntime runtime = m.runtime();
        GenerationRequest request = GenerationRequest.builder().prompt("a red cat").numInferenceSteps(2).seed(1).build();
        GenerationResult before = pipeline.generate(request);
        Conditioning cond = text.encode(List.of("a red cat"));
        Tensor latents = before.latents();
        Tensor pixels = decoder.decode(latents);
        assertThat(encoder.encode(pixels).shape()).isEqualTo(latents.shape());
        float[] sigma = {0.5f};
        assertThat(generator.predict(latents, sigma, cond).shape()).isEqualTo(latents.shape());
        assertThat(runtime.openModels()).isGreaterThanOrEqualTo(4);

        m.close();
        assertThatCode(m::close).doesNotThrowAnyException();
        for (AutoCloseable part : new AutoCloseable[] {pipeline, text, generator, decoder, encoder, runtime}) {
            assertThatCode(part::close).as("closing %s again", part).doesNotThrowAnyException();
        }
        assertThat(runtime.openModels()).isZero();
        assertThat(m.toString()).endsWith(", closed}");

        assertClosed("pipeline", () -> pipeline.generate(request));
        assertClosed("prompt encoder", () -> text.encode(List.of("a red cat")));
        assertClosed("generator", () -> generator.predict(latents, sigma, cond));
        assertClosed("decoder", () -> decoder.decode(latents));
        assertClosed("image encoder", () -> encoder.encode(pixels));
        assertClosed("runtime", () -> runtime.load(dir.resolve("sd3/transformer/model.onnx")));
    }

    @Test
    void closingAComponentFirstThenTheModelIsHarmlessAndTheModelThenRefusesToGenerate() {
        TinyModelFolders.senseflow(dir.resolve("tiny"), 42);
        try (LoadedModel m = Models.load(dir.resolve("tiny"), ConcurrentGenerationTest.OPTIONS)) {
            m.decoder().close();
            assertClosed("generation with its decoder closed",
                    () -> m.pipeline().generate(GenerationRequest.builder().prompt("a red cat").seed(1).build()));
            // a request that does not decode still works: the other sessions are open
            GenerationRequest latentsOnly = GenerationRequest.builder().prompt("a red cat").seed(1).decode(false).build();
            assertThat(m.pipeline().generate(latentsOnly).latents().countNonFinite()).isZero();
        }
    }
}
