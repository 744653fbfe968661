package io.senseflow.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.noise.NoiseSource;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.Scheduler;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.GaussianMixture;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.testing.MixturePrompts;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Drawing the noise on the helper thread while the model runs must not change a bit: the initial and re-noising draws
 * are pure functions of their keys, so the latents with and without the prefetch are identical, for small batches
 * (drawn serially) and for batches above the parallel-draw threshold, and with torch noise (never prefetched).
 */
class NoisePrefetchTest {
    private static final GaussianMixture MIXTURE = new GaussianMixture(
            new double[][] {{1.5, 0.5}, {-1.0, -1.0}, {0.0, 2.0}}, new double[] {0.5, 0.3, 0.2}, 0.4);

    private static TextToImagePipeline pipeline(Scheduler scheduler, boolean prefetch) {
        return TextToImagePipeline.builder()
                .modelName("mixture")
                .promptEncoder(new MixturePrompts(MIXTURE.components()))
                .generator(new MixtureFlowGenerator(MIXTURE))
                .scheduler(scheduler)
                .defaults(new ModelDefaults(4, 1.0, 1, 1))
                .prefetchNoise(prefetch)
                .build();
    }

    private static Tensor latents(boolean prefetch, int images, NoiseSource source) {
        try (TextToImagePipeline p = pipeline(FewStepScheduler.of(1, 0.75, 0.5, 0.25), prefetch)) {
            GenerationRequest r = GenerationRequest.builder().prompt("all").imagesPerPrompt(images).seed(11)
                    .noiseSource(source).build();
            Tensor first = p.generate(r).latents();
            Tensor again = p.generate(r).latents(); // the helper thread is reused between calls
            assertThat(again.toArray()).isEqualTo(first.toArray());
            return first;
        }
    }

    @Test
    void prefetchedNoiseGivesTheSameBits() {
        for (int images : new int[] {3, 2_101}) { // 2 x 2,101 = 4,202 values: above the parallel threshold
            Tensor serial = latents(false, images, NoiseSource.COUNTER);
            Tensor prefetched = latents(true, images, NoiseSource.COUNTER);
            assertThat(bits(prefetched)).as("batch %d", images).isEqualTo(bits(serial));
            assertThat(serial.size()).isEqualTo(2 * images);
        }
        assertThat(bits(latents(true, 5, NoiseSource.TORCH))).isEqualTo(bits(latents(false, 5, NoiseSource.TORCH)));
    }

    @Test
    void closedPipelineStopsItsHelperThread() throws InterruptedException {
        java.util.Set<Thread> before = helpers();
        TextToImagePipeline p = pipeline(FewStepScheduler.of(1, 0.75, 0.5, 0.25), true);
        p.generate(GenerationRequest.builder().prompt("all").build());
        java.util.Set<Thread> mine = helpers();
        mine.removeAll(before);
        assertThat(mine).as("the pipeline's own helper thread").hasSize(1);
        p.close();
        p.close();
        Thread helper = mine.iterator().next();
        helper.join(5_000);
        assertThat(helper.isAlive()).isFalse();
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> p.generate(GenerationRequest.builder().prompt("all").build()))
                .isInstanceOf(IllegalStateException.class);
    }

    private static java.util.Set<Thread> helpers() {
        java.util.Set<Thread> out = new java.util.HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().equals("senseflow-noise") && t.isAlive()) {
                out.add(t);
            }
        }
        return out;
    }

    private static int[] bits(Tensor t) {
        float[] v = t.toArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = Float.floatToRawIntBits(v[i]);
        }
        return Arrays.copyOf(out, out.length);
    }
}
