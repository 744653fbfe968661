package io.senseflow.onnx.folders;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.model.LatentFormat;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.onnx.testing.Fixture;
import io.senseflow.onnx.testing.FixtureOptions;
import io.senseflow.onnx.testing.ReferencePipeline;
import io.senseflow.onnx.testing.ReferencePipeline.Deviation;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.tensor.Tensor;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each family's whole pipeline on its closed-form fixture against the Java reference; each wrong convention the
 * reference can simulate must land far from what the pipeline produces.
 */
class LayoutPipelineTest {
    static final SessionConfig CPU1 = SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build();
    static final LoadOptions OPTIONS = LoadOptions.builder().sessionConfig(CPU1).build();

    @TempDir
    Path dir;

    static float relDiff(Tensor a, Tensor b) {
        assertThat(a.shape()).containsExactly(b.shape());
        return a.sub(b).maxAbs() / Math.max(1e-6f, b.maxAbs());
    }

    /** Runs the request, checks it against the reference, and checks every listed deviation is caught. */
    static GenerationResult check(LoadedModel model, ReferencePipeline reference, GenerationRequest request, float tolerance,
                                  Deviation... mustDiffer) {
        GenerationResult result = model.pipeline().generate(request);
        assertThat(model.pipeline().generate(request).latents()).as("deterministic per seed").isEqualTo(result.latents());
        ReferencePipeline.Prediction expected = reference.predict(request);
        assertThat(relDiff(result.latents(), expected.latents())).as("latents").isLessThan(tolerance);
        Tensor decoded = model.decoder().decode(result.latents());
        assertThat(relDiff(decoded, expected.images())).as("images").isLessThan(tolerance);
        for (Deviation d : mustDiffer) {
            ReferencePipeline.Prediction wrong = reference.predict(request, d);
            float latents = relDiff(result.latents(), wrong.latents());
            float images = relDiff(decoded, wrong.images());
            assertThat(Math.max(latents, images)).as("a pipeline with " + d + " wrong is told apart")
                    .isGreaterThan(Math.max(1e-2f, 10 * tolerance));
        }
        return result;
    }

    @Test
    void sd3MatchesTheReferenceWithCfg() {
        Fixture f = TinyModelFolders.sd3(dir.resolve("sd3"));
        try (LoadedModel m = Models.load(f.dir(), OPTIONS)) {
            assertThat(m.family()).isEqualTo(ModelFamily.SD3);
            assertThat(m.guidanceMode()).isEqualTo(GuidanceMode.CFG);
            assertThat(m.latentFormat()).isEqualTo(new LatentFormat(16, 8, 2));
            assertThat(m.defaults().width()).isEqualTo(32);
            GenerationRequest r = GenerationRequest.builder().prompts(java.util.List.of("a red cat on the mat", "blue sky"))
                    .negativePrompt("dog").imagesPerPrompt(2).numInferenceSteps(3).guidanceScale(4.5).seed(11)
                    .width(48).height(32).build();
            GenerationResult out = check(m, f.reference(), r, 1e-4f, Deviation.TIMESTEP_SCALE, Deviation.HIDDEN_STATE,
                    Deviation.POOLED_ORDER, Deviation.TEXT_ORDER, Deviation.VAE_SCALING);
            assertThat(out.images()).hasSize(4);
            assertThat(out.images().get(0).width()).isEqualTo(48);
            assertThat(out.images().get(0).height()).isEqualTo(32);
            // same seed, same bits; another seed, other images
            assertThat(m.pipeline().generate(r).latents()).isEqualTo(out.latents());
            assertThat(m.pipeline().generate(r.toBuilder().seed(12).build()).latents()).isNotEqualTo(out.latents());
        }
    }

    @Test
    void sd3SenseflowCheckpointUsesTheAnchorsWithoutGuidance() {
        Fixture f = TinyModelFolders.sd3(dir.resolve("sd35-senseflow"), FixtureOptions.defaults().withSenseflowCheckpoint(true));
        try (LoadedModel m = Models.load(f.dir(), OPTIONS)) {
            assertThat(m.senseflowCheckpoint()).isTrue();
            assertThat(m.guidanceMode()).isEqualTo(GuidanceMode.NONE);
            assertThat(m.scheduler()).isEqualTo(FewStepScheduler.of(io.senseflow.schedule.AnchorPreset.SD35));
            assertThat(m.defaults().steps()).isEqualTo(4);
            assertThat(((Sd3PromptEncoder) m.promptEncoder()).t5SequenceLength()).isEqualTo(77);
            GenerationRequest r = GenerationRequest.builder().prompt("a photo of a fox in the snow").seed(3).build();
            GenerationResult out = check(m, f.reference(), r, 1e-4f, Deviation.TIMESTEP_SCALE, Deviation.HIDDEN_STATE,
                    Deviation.TEXT_ORDER, Deviation.VAE_SCALING);
            assertThat(out.settings().sigmas()).containsExactly(1, 0.9, 0.75, 0.5, 0);
        }
        // the marker can be overridden: the same folder as a plain teacher
        try (LoadedModel m = Models.load(f.dir(), OPTIONS.toBuilder().senseflowCheckpoint(false).t5SequenceLength(256).build())) {
            assertThat(m.guidanceMode()).isEqualTo(GuidanceMode.CFG);
            assertThat(((Sd3PromptEncoder) m.promptEncoder()).t5SequenceLength()).isEqualTo(256);
        }
    }

    @Test
    void sd3WithoutT5UsesZerosAndFp16ExportsAgree() {
        Fixture noT5 = TinyModelFolders.sd3(dir.resolve("no-t5"), FixtureOptions.defaults().withT5(false).withVaeEncoder(false));
        GenerationRequest r = GenerationRequest.builder().prompt("green tree").numInferenceSteps(2).seed(5).build();
        try (LoadedModel m = Models.load(noT5.dir(), OPTIONS)) {
            assertThat(((Sd3PromptEncoder) m.promptEncoder()).hasT5()).isFalse();
            assertThat(m.imageEncoder()).isEmpty();
            check(m, noT5.reference(), r, 1e-4f, Deviation.TEXT_ORDER);
        }
        Fixture half = TinyModelFolders.sd3(dir.resolve("fp16"), FixtureOptions.defaults().fp16());
        try (LoadedModel m = Models.load(half.dir(), OPTIONS)) {
            assertThat(m.generator().toString()).contains("transformer/model.onnx");
            // half-precision inputs, weights and outputs: agreement to fp16 accuracy, and still far from a wrong convention
            check(m, half.reference(), r, 1e-2f, Deviation.TIMESTEP_SCALE, Deviation.VAE_SCALING);
        }
    }

    @Test
    void fluxPacksLatentsAndTakesEmbeddedGuidance() {
        Fixture f = TinyModelFolders.flux(dir.resolve("flux-dev"));
        try (LoadedModel m = Models.load(f.dir(), OPTIONS)) {
            assertThat(m.family()).isEqualTo(ModelFamily.FLUX);
            assertThat(m.guidanceMode()).isEqualTo(GuidanceMode.EMBEDDED);
            assertThat(m.defaults().guidanceScale()).isEqualTo(3.5);
            assertThat(m.latentFormat()).isEqualTo(new LatentFormat(16, 8, 2));
            GenerationRequest r = GenerationRequest.builder().prompt("an astronaut riding a horse on the moon").numInferenceSteps(3)
                    .guidanceScale(2.5).seed(21).width(64).height(32).imagesPerPrompt(2).build();
            check(m, f.reference(), r, 1e-4f, Deviation.TIMESTEP_SCALE, Deviation.PACKING, Deviation.VAE_SCALING);
        }
    }

    @Test
    void fluxWithoutGuidanceInputAndAsSenseflowCheckpoint() {
        Fixture schnell = TinyModelFolders.flux(dir.resolve("flux-schnell"), FixtureOptions.defaults().withGuidanceInput(false));
        GenerationRequest r = GenerationRequest.builder().prompt("sunset over the sea").seed(2).build();
        try (LoadedModel m = Models.load(schnell.dir(), OPTIONS)) {
            assertThat(m.guidanceMode()).isEqualTo(GuidanceMode.NONE);
            assertThat(m.defaults().steps()).isEqualTo(4);
            check(m, schnell.reference(), r, 1e-4f, Deviation.PACKING);
        }
        Fixture sf = TinyModelFolders.flux(dir.resolve("flux-senseflow"),
                FixtureOptions.defaults().withGuidanceInput(false).withSenseflowCheckpoint(true));
        try (LoadedModel m = Models.load(sf.dir(), OPTIONS)) {
            assertThat(m.scheduler()).isEqualTo(FewStepScheduler.of(io.senseflow.schedule.AnchorPreset.FLUX));
            GenerationResult out = check(m, sf.reference(), r, 1e-4f, Deviation.PACKING, Deviation.TIMESTEP_SCALE);
            assertThat(out.settings().sigmas()).containsExactly(1, 0.904, 0.759, 0.512, 0);
        }
    }

    @Test
    void sdxlZeroesEmptyNegativesAndFeedsTimeIds() {
        Fixture f = TinyModelFolders.sdxl(dir.resolve("sdxl"));
        try (LoadedModel m = Models.load(f.dir(), OPTIONS)) {
            assertThat(m.family()).isEqualTo(ModelFamily.SDXL);
            assertThat(m.latentFormat()).isEqualTo(new LatentFormat(4, 8, 1));
            assertThat(m.scheduler()).isInstanceOf(DdpmEulerScheduler.class);
            // one prompt with an empty negative (zeroed), one with a real negative (encoded); non-square so H and W differ
            GenerationRequest r = GenerationRequest.builder().prompts(java.util.List.of("a big red house", "small blue dog"))
                    .negativePrompts(java.util.List.of("", "green")).numInferenceSteps(4).guidanceScale(6).seed(8)
                    .width(40).height(24).build();
            check(m, f.reference(), r, 1e-4f, Deviation.HIDDEN_STATE, Deviation.TEXT_ORDER, Deviation.NEGATIVE_ZEROS,
                    Deviation.TIME_IDS_ORDER, Deviation.VAE_SCALING);
        }
        Fixture sf = TinyModelFolders.sdxl(dir.resolve("sdxl-senseflow"), FixtureOptions.defaults().withSenseflowCheckpoint(true));
        try (LoadedModel m = Models.load(sf.dir(), OPTIONS)) {
            assertThat(m.guidanceMode()).isEqualTo(GuidanceMode.NONE);
            GenerationRequest r = GenerationRequest.builder().prompt("a cat").seed(4).width(48).height(32).build();
            GenerationResult out = check(m, sf.reference(), r, 1e-4f, Deviation.TIME_IDS_ORDER);
            assertThat(out.settings().sigmas()[0]).isCloseTo(0.935958, org.assertj.core.data.Offset.offset(1e-6));
        }
    }

    @Test
    void vaeEncoderAppliesScalingAndKeepsTheMean() {
        Fixture f = TinyModelFolders.flux(dir.resolve("flux-enc"));
        try (LoadedModel m = Models.load(f.dir(), OPTIONS)) {
            Tensor images = Tensor.wrap(new float[3 * 16 * 32], 1, 3, 16, 32).map(v -> 0.25f);
            Tensor latents = m.imageEncoder().orElseThrow().encode(images);
            assertThat(latents.shape()).containsExactly(1, 16, 2, 4);
            // mean channel k = 0.01 k + sum_o 0.2 sin(0.5 k + 1.7 o) * 0.25, then (mean - shift) * scaling
            for (int k = 0; k < 16; k++) {
                double mean = 0.01 * k;
                for (int o = 0; o < 3; o++) {
                    mean += 0.2 * Math.sin(0.5 * k + 1.7 * o) * 0.25;
                }
                assertThat((double) latents.get(k * 8)).isCloseTo((mean - 0.1159) * 0.3611, org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }
}
