package io.senseflow.onnx.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.image.Image;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.onnx.testing.FixtureTokenizer;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * One ONNX Runtime pipeline shared by {@value #THREADS} threads, each sending its own mix of requests (one or two
 * prompts, one to three images per prompt, different seeds and step counts): every result is bit-identical to the same
 * request run alone, and nothing throws. The sessions run one thread each (intra- and inter-op), so the threads really
 * run the same session at the same time.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ConcurrentGenerationTest {
    static final int THREADS = 8;
    static final SessionConfig CPU1 = SessionConfig.builder().intraOpThreads(1).interOpThreads(1).build();
    static final LoadOptions OPTIONS = LoadOptions.builder().sessionConfig(CPU1).build();

    @TempDir
    Path dir;

    /** A reproducible mix of requests. */
    static List<GenerationRequest> requests(int count, long seed, boolean guided) {
        Random r = new Random(seed);
        List<String> words = FixtureTokenizer.WORDS;
        List<GenerationRequest> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            List<String> prompts = new ArrayList<>();
            int n = 1 + r.nextInt(2);
            for (int p = 0; p < n; p++) {
                StringBuilder sb = new StringBuilder();
                for (int w = 1 + r.nextInt(5); w > 0; w--) {
                    sb.append(words.get(r.nextInt(words.size()))).append(' ');
                }
                prompts.add(sb.toString().strip());
            }
            GenerationRequest.Builder b = GenerationRequest.builder().prompts(prompts).imagesPerPrompt(1 + r.nextInt(3))
                    .seed(r.nextInt(1000)).numInferenceSteps(1 + r.nextInt(3));
            if (guided) {
                b.guidanceScale(1 + 4 * r.nextDouble()).negativePrompt(r.nextBoolean() ? "" : words.get(r.nextInt(words.size())));
            }
            out.add(b.build());
        }
        return out;
    }

    /** What a result is made of, for exact comparison. */
    record Outcome(Tensor latents, List<byte[]> rgb) {
        static Outcome of(GenerationResult r) {
            List<byte[]> rgb = new ArrayList<>();
            for (Image i : r.images()) {
                rgb.add(i.rgb());
            }
            return new Outcome(r.latents(), rgb);
        }

        void assertSameAs(Outcome other, String what) {
            assertThat(latents).as(what + " latents").isEqualTo(other.latents);
            assertThat(rgb).as(what + " images").hasSameSizeAs(other.rgb);
            for (int i = 0; i < rgb.size(); i++) {
                assertThat(rgb.get(i)).as(what + " image " + i).isEqualTo(other.rgb.get(i));
            }
        }
    }

    /**
     * Runs {@code perThread} requests on each of {@value #THREADS} threads at once (released together by a barrier)
     * and compares each with its serial result.
     *
     * @return the number of images compared
     */
    static int assertConcurrentEqualsSerial(TextToImagePipeline pipeline, List<GenerationRequest> all) throws Exception {
        List<Outcome> serial = new ArrayList<>();
        for (GenerationRequest r : all) {
            serial.add(Outcome.of(pipeline.generate(r)));
        }
        int perThread = all.size() / THREADS;
        CyclicBarrier start = new CyclicBarrier(THREADS);
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            List<Future<List<Outcome>>> futures = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                List<GenerationRequest> mine = all.subList(t * perThread, (t + 1) * perThread);
                futures.add(pool.submit(() -> {
                    start.await();
                    List<Outcome> got = new ArrayList<>();
                    for (GenerationRequest r : mine) {
                        got.add(Outcome.of(pipeline.generate(r)));
                    }
                    return got;
                }));
            }
            int images = 0;
            for (int t = 0; t < THREADS; t++) {
                List<Outcome> got = futures.get(t).get(); // rethrows anything a thread threw
                for (int i = 0; i < perThread; i++) {
                    int k = t * perThread + i;
                    got.get(i).assertSameAs(serial.get(k), "thread " + t + " request " + i + " (" + all.get(k).prompts() + ")");
                    images += got.get(i).rgb().size();
                }
            }
            return images;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void eightThreadsTimesFiftyRequestsOnTheInHouseModelMatchTheSerialResultsBitForBit() throws Exception {
        TinyModelFolders.senseflow(dir.resolve("tiny"), 42);
        try (LoadedModel m = Models.load(dir.resolve("tiny"), OPTIONS)) {
            List<GenerationRequest> all = requests(THREADS * 50, 1, false);
            int images = assertConcurrentEqualsSerial(m.pipeline(), all);
            assertThat(images).isGreaterThan(all.size()); // batches of several images were among them
        }
    }

    @Test
    void guidedBatchesOnAnSd3LikeModelWithThreeTokenizersMatchTooBitForBit() throws Exception {
        TinyModelFolders.sd3(dir.resolve("sd3"));
        try (LoadedModel m = Models.load(dir.resolve("sd3"), OPTIONS)) {
            assertConcurrentEqualsSerial(m.pipeline(), requests(THREADS * 10, 2, true));
        }
    }
}
