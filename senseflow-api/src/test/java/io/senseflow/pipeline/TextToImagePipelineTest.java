package io.senseflow.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.senseflow.CancelledException;
import io.senseflow.InvalidRequestException;
import io.senseflow.image.Image;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.ImageDecoder;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.noise.NoiseKey;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.FlowMatchEulerScheduler;
import io.senseflow.schedule.SamplingMode;
import io.senseflow.schedule.Shift;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.GaussianMixture;
import io.senseflow.testing.MixtureFlowGenerator;
import io.senseflow.testing.MixturePrompts;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pipeline driven by the exact velocity field of a Gaussian mixture: no engine, no training. */
class TextToImagePipelineTest {
    private static final GaussianMixture MIXTURE = new GaussianMixture(
            new double[][] {{1.5, 0.5}, {-1.0, -1.0}, {0.0, 2.0}}, new double[] {0.5, 0.3, 0.2}, 0.4);

    private static TextToImagePipeline pipeline(io.senseflow.schedule.Scheduler scheduler, int steps) {
        return TextToImagePipeline.builder()
                .modelName("mixture")
                .promptEncoder(new MixturePrompts(MIXTURE.components()))
                .generator(new MixtureFlowGenerator(MIXTURE))
                .scheduler(scheduler)
                .defaults(new ModelDefaults(steps, 1.0, 1, 1))
                .build();
    }

    private static TextToImagePipeline euler50() {
        return pipeline(new FlowMatchEulerScheduler(Shift.none(), FlowMatchEulerScheduler.Spacing.UNIFORM, SamplingMode.EULER), 50);
    }

    @Test
    void fiftyStepEulerMatchesTheDataMeanAndCovariance() {
        try (TextToImagePipeline p = euler50()) {
            int n = 4000;
            Tensor x = p.generate(GenerationRequest.builder().prompt("all").imagesPerPrompt(n).seed(1).build()).latents();
            double[] m = new double[2];
            for (int i = 0; i < n; i++) {
                m[0] += x.get(2 * i) / n;
                m[1] += x.get(2 * i + 1) / n;
            }
            double[][] c = new double[2][2];
            for (int i = 0; i < n; i++) {
                double d0 = x.get(2 * i) - m[0];
                double d1 = x.get(2 * i + 1) - m[1];
                c[0][0] += d0 * d0 / (n - 1);
                c[0][1] += d0 * d1 / (n - 1);
                c[1][1] += d1 * d1 / (n - 1);
            }
            double[] trueMean = MIXTURE.mean(null);
            double[][] trueCov = MIXTURE.covariance(null);
            assertThat(m[0]).isCloseTo(trueMean[0], within(0.06));
            assertThat(m[1]).isCloseTo(trueMean[1], within(0.06));
            assertThat(c[0][0]).isCloseTo(trueCov[0][0], within(0.08 * trueCov[0][0]));
            assertThat(c[1][1]).isCloseTo(trueCov[1][1], within(0.08 * trueCov[1][1]));
            assertThat(c[0][1]).isCloseTo(trueCov[0][1], within(0.08));
        }
    }

    @Test
    void conditioningSelectsModesAndGuidanceSharpensThem() {
        try (TextToImagePipeline p = euler50()) {
            int n = 500;
            Tensor x = p.generate(GenerationRequest.builder().prompt("modes 2").imagesPerPrompt(n).seed(2).build()).latents();
            int atMode2 = 0;
            for (int i = 0; i < n; i++) {
                if (MIXTURE.nearestComponent(new double[] {x.get(2 * i), x.get(2 * i + 1)}) == 2) {
                    atMode2++;
                }
            }
            assertThat(atMode2).isGreaterThan(480);
            GenerationResult guided = p.generate(GenerationRequest.builder().prompt("modes 2").imagesPerPrompt(n)
                    .guidanceScale(3).seed(2).build());
            assertThat(guided.settings().guidanceMode()).isEqualTo(GuidanceMode.CFG);
            // guidance extrapolates away from the unconditional distribution: samples move further from its mean
            double[] uncondMean = MIXTURE.mean(null);
            assertThat(spreadAround(guided.latents(), uncondMean)).isGreaterThan(spreadAround(x, uncondMean) + 0.1);
        }
    }

    private static double spreadAround(Tensor x, double[] mu) {
        double s = 0;
        for (int i = 0; i < x.batch(); i++) {
            s += Math.hypot(x.get(2 * i) - mu[0], x.get(2 * i + 1) - mu[1]);
        }
        return s / x.batch();
    }

    @Test
    void fewStepStochasticModeIsDeterministicPerSeed() {
        try (TextToImagePipeline p = pipeline(FewStepScheduler.of(1, 0.75, 0.5, 0.25), 4)) {
            GenerationRequest r = GenerationRequest.builder().prompt("all").imagesPerPrompt(8).seed(5).build();
            Tensor a = p.generate(r).latents();
            Tensor b = p.generate(r).latents();
            assertThat(a).isEqualTo(b);
            Tensor c = p.generate(r.toBuilder().seed(6).build()).latents();
            assertThat(c).isNotEqualTo(a);
        }
    }

    @Test
    void batchEqualsSingleRequestsWithTheSameNoiseKeys() {
        try (TextToImagePipeline p = pipeline(FewStepScheduler.of(1, 0.75, 0.5, 0.25), 4)) {
            Tensor batch = p.generate(GenerationRequest.builder().prompts(List.of("modes 0", "modes 1,2"))
                    .imagesPerPrompt(2).seed(9).build()).latents();
            String[] promptOf = {"modes 0", "modes 0", "modes 1,2", "modes 1,2"};
            for (int i = 0; i < 4; i++) {
                Tensor single = p.generate(GenerationRequest.builder().prompt(promptOf[i])
                        .noiseKeys(List.of(new NoiseKey(9, i))).build()).latents();
                assertThat(single).as("sample %d", i).isEqualTo(batch.sample(i).copy());
            }
        }
    }

    @Test
    void guidedBatchEqualsGuidedSingles() {
        try (TextToImagePipeline p = euler50()) {
            GenerationRequest r = GenerationRequest.builder().prompt("modes 1").imagesPerPrompt(3).guidanceScale(2)
                    .numInferenceSteps(10).seed(4).build();
            Tensor batch = p.generate(r).latents();
            for (int i = 0; i < 3; i++) {
                Tensor single = p.generate(r.toBuilder().imagesPerPrompt(1).noiseKeys(List.of(new NoiseKey(4, i))).build()).latents();
                assertThat(single).isEqualTo(batch.sample(i).copy());
            }
        }
    }

    @Test
    void progressIsReportedPerStepAndCancellationStopsMidRun() {
        try (TextToImagePipeline p = euler50()) {
            List<Integer> seen = new ArrayList<>();
            CancellationToken token = new CancellationToken();
            GenerationRequest r = GenerationRequest.builder().prompt("all").numInferenceSteps(20).build();
            assertThatThrownBy(() -> p.generate(r, step -> {
                seen.add(step.step());
                if (step.step() == 7) {
                    token.cancel();
                }
            }, token)).isInstanceOf(CancelledException.class).hasMessageContaining("before step 8 of 20");
            assertThat(seen).containsExactly(1, 2, 3, 4, 5, 6, 7);
        }
    }

    @Test
    void resultCarriesEffectiveSettingsAndTimings() {
        try (TextToImagePipeline p = euler50()) {
            GenerationResult r = p.generate(GenerationRequest.builder().prompt("modes 0").numInferenceSteps(5).seed(3).build());
            assertThat(r.settings().steps()).isEqualTo(5);
            assertThat(r.settings().sigmas()).hasSize(6).startsWith(1.0).endsWith(0.0);
            assertThat(r.settings().noiseKeys()).containsExactly(new NoiseKey(3, 0));
            assertThat(r.settings().guidanceScale()).isEqualTo(1.0);
            assertThat(r.timings().stepNanos()).hasSize(5);
            assertThat(r.timings().denoiseNanos()).isPositive();
            assertThat(r.images()).isEmpty(); // no decoder
        }
    }

    @Test
    void explicitSigmasAndInitialLatentsAreUsed() {
        try (TextToImagePipeline p = euler50()) {
            Tensor init = Tensor.of(new float[] {0.1f, -0.2f}, 1, 2, 1, 1);
            GenerationResult r = p.generate(GenerationRequest.builder().prompt("all").sigmas(1.0, 0.5).latents(init).build());
            assertThat(r.settings().sigmas()).containsExactly(1.0, 0.5, 0.0);
            Tensor expected = p.generate(GenerationRequest.builder().prompt("all").sigmas(1.0, 0.5).latents(init).build()).latents();
            assertThat(r.latents()).isEqualTo(expected);
        }
    }

    @Test
    void imagesAreDecodedAndCarryTheirParametersInPng(@TempDir Path dir) {
        // a pixel-space "model": 3 channels, patch 2, images 4x2, decoder = tanh of the latents
        Generator g = new Generator() {
            @Override
            public Tensor predict(Tensor x, float[] s, Conditioning c) {
                return x.scale(0.5f);
            }

            @Override
            public Parameterization parameterization() {
                return Parameterization.VELOCITY;
            }

            @Override
            public LatentFormat latentFormat() {
                return new LatentFormat(3, 1, 2);
            }
        };
        AtomicInteger closed = new AtomicInteger();
        ImageDecoder dec = new ImageDecoder() {
            @Override
            public Tensor decode(Tensor latents) {
                return latents.map(v -> (float) Math.tanh(v));
            }

            @Override
            public void close() {
                closed.incrementAndGet();
            }
        };
        TextToImagePipeline p = TextToImagePipeline.builder().modelName("toy").promptEncoder(new MixturePrompts(3))
                .generator(g).decoder(dec).scheduler(FewStepScheduler.of(1.0, 0.5)).guidanceMode(GuidanceMode.NONE)
                .defaults(new ModelDefaults(2, 1, 4, 2)).closing(dec).build();
        GenerationResult r = p.generate(GenerationRequest.builder().prompt("modes 1").negativePrompt("").seed(77).build());
        assertThat(r.images()).hasSize(1);
        Image img = r.images().get(0);
        assertThat(img.width()).isEqualTo(4);
        assertThat(img.height()).isEqualTo(2);
        Path file = dir.resolve("out.png");
        img.writePng(file);
        Image back = Image.read(file);
        assertThat(back.rgb()).isEqualTo(img.rgb());
        assertThat(back.metadata()).containsEntry("prompt", "modes 1").containsEntry("seed", "77")
                .containsEntry("steps", "2").containsEntry("model", "toy").containsEntry("sigmas", "[1.0, 0.5, 0.0]");
        p.close();
        assertThat(closed).hasValue(1);
    }

    @Test
    void badRequestsAreRejectedWithClearMessages() {
        assertThatThrownBy(() -> GenerationRequest.builder().prompts(List.of()).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("prompts").hasMessageContaining("at least one");
        assertThatThrownBy(() -> GenerationRequest.builder().prompt("a").numInferenceSteps(0).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("numInferenceSteps").hasMessageContaining("got 0");
        assertThatThrownBy(() -> GenerationRequest.builder().prompt("a").guidanceScale(-1).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("guidanceScale").hasMessageContaining("-1");
        Tensor nan = Tensor.of(new float[] {Float.NaN, 0}, 1, 2, 1, 1);
        assertThatThrownBy(() -> GenerationRequest.builder().prompt("a").latents(nan).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("latents").hasMessageContaining("1 NaN");
        assertThatThrownBy(() -> GenerationRequest.builder().prompt("a").imagesPerPrompt(2)
                .noiseKeys(List.of(new NoiseKey(1, 0))).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("noiseKeys");
        TextToImagePipeline p = TextToImagePipeline.builder().promptEncoder(new MixturePrompts(3))
                .generator(new Generator() {
                    @Override
                    public Tensor predict(Tensor x, float[] s, Conditioning c) {
                        return x;
                    }

                    @Override
                    public Parameterization parameterization() {
                        return Parameterization.VELOCITY;
                    }

                    @Override
                    public LatentFormat latentFormat() {
                        return new LatentFormat(16, 8, 2);
                    }
                }).scheduler(FewStepScheduler.of(1.0)).defaults(new ModelDefaults(1, 1, 64, 64)).build();
        assertThatThrownBy(() -> p.generate(GenerationRequest.builder().prompt("all").width(72).build()))
                .isInstanceOf(InvalidRequestException.class)
                .hasMessage("width: expected a multiple of 16 (VAE factor 8 x patch 2), got 72");
        assertThatThrownBy(() -> p.generate(GenerationRequest.builder().prompt("all")
                .latents(Tensor.zeros(1, 4, 8, 8)).build()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("16 latent channels")
                .hasMessageContaining("[1, 4, 8, 8]");
        assertThatThrownBy(() -> p.generate(GenerationRequest.builder().prompt("banana").build()))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("prompt");
    }
}
