package io.senseflow.examples.shapes;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.image.Image;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The thread settings of ONNX Runtime sessions change how fast a call is, never what it draws: the bundled teacher
 * (guided) and student give the same final latents, bit for bit, and the same image bytes with the SDK's default
 * (workers stop spinning when a run returns), with ONNX Runtime's own behaviour before that default (workers keep
 * spinning after every run), without spinning, and with one thread (docs/performance.md, "The few-step promise on
 * an AMD EPYC").
 */
class BundledThreadSettingsTest {
    static final SessionConfig DEFAULT = SessionConfig.builder().intraOpThreads(2).interOpThreads(1).build();
    static final List<SessionConfig> OTHERS = List.of(
            DEFAULT.toBuilder().spinBetweenRuns(true).build(),
            DEFAULT.toBuilder().allowSpinning(false).build(),
            DEFAULT.toBuilder().intraOpThreads(1).build());

    @Test
    void theTeacherDrawsTheSameBitsWithEveryThreadSetting() {
        // 5 guided steps of batch 3 (transformer runs of batch 6): shapes that are not powers of two
        GenerationRequest req = GenerationRequest.builder().prompts(List.of(BundledTeacherTest.PROMPTS.get(0),
                        BundledTeacherTest.PROMPTS.get(1), BundledTeacherTest.PROMPTS.get(0))).seed(11)
                .numInferenceSteps(5).build();
        assertSameBits(o -> ShapesModels.teacher(o), req);
    }

    @Test
    void theStudentDrawsTheSameBitsWithEveryThreadSetting() {
        GenerationRequest req = GenerationRequest.builder().prompts(BundledTeacherTest.PROMPTS).seed(12).build();
        assertSameBits(o -> ShapesModels.student(o), req);
    }

    private static void assertSameBits(Function<LoadOptions, LoadedModel> load, GenerationRequest req) {
        Generated expected = generate(load, DEFAULT, req);
        assertThat(expected.images).isNotEmpty();
        for (SessionConfig c : OTHERS) {
            Generated other = generate(load, c, req);
            assertThat(other.latentBits).as("final latents with %s", c).isEqualTo(expected.latentBits);
            assertThat(other.images).as("image count with %s", c).hasSameSizeAs(expected.images);
            for (int i = 0; i < expected.images.size(); i++) {
                assertThat(other.images.get(i)).as("image %d bytes with %s", i, c).isEqualTo(expected.images.get(i));
            }
        }
    }

    private record Generated(int[] latentBits, List<byte[]> images) {
    }

    private static Generated generate(Function<LoadOptions, LoadedModel> load, SessionConfig config, GenerationRequest req) {
        try (LoadedModel m = load.apply(LoadOptions.builder().sessionConfig(config).build())) {
            GenerationResult r = m.pipeline().generate(req);
            float[] latents = r.latents().toArray();
            int[] bits = new int[latents.length];
            for (int i = 0; i < bits.length; i++) {
                bits[i] = Float.floatToRawIntBits(latents[i]);
            }
            List<byte[]> images = new ArrayList<>();
            for (Image im : r.images()) {
                images.add(im.rgb());
            }
            return new Generated(bits, images);
        }
    }
}
