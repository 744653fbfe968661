package io.senseflow.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.CancelledException;
import io.senseflow.NumericalException;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.ImageDecoder;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.model.PromptEncoder;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.tensor.Tensor;
import io.senseflow.testing.MixturePrompts;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Non-finite values at every stage of a generation, cancellation before decoding, and the pipeline's closing rules. */
class PipelineGuardsTest {
    private static final MixturePrompts PROMPTS = new MixturePrompts(3);

    /** A 3-channel pixel-space toy: v = x / 2, except at {@code poisonedStep} (1-based), where one element is NaN. */
    private static Generator generator(int poisonedStep, AtomicInteger calls) {
        return new Generator() {
            @Override
            public Tensor predict(Tensor x, float[] s, Conditioning c) {
                int call = calls.incrementAndGet();
                Tensor v = x.scale(0.5f);
                if (call == poisonedStep) {
                    float[] a = v.toArray();
                    a[1] = Float.NaN;
                    return Tensor.wrap(a, v.shape());
                }
                return v;
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
    }

    private static TextToImagePipeline pipeline(PromptEncoder prompts, Generator g, ImageDecoder dec) {
        return TextToImagePipeline.builder().modelName("toy").promptEncoder(prompts).generator(g).decoder(dec)
                .scheduler(FewStepScheduler.of(1.0, 0.75, 0.5)).guidanceMode(GuidanceMode.NONE)
                .defaults(new ModelDefaults(3, 1, 4, 2)).build();
    }

    private static final GenerationRequest REQUEST = GenerationRequest.builder().prompt("modes 1").seed(5).build();

    @Test
    void aNonFiniteGeneratorOutputNamesTheStageStepAndTensor() {
        try (TextToImagePipeline p = pipeline(PROMPTS, generator(2, new AtomicInteger()), ImageDecoder.identity())) {
            assertThatThrownBy(() -> p.generate(REQUEST)).isInstanceOfSatisfying(NumericalException.class, e -> {
                assertThat(e).hasMessage("generation: denoise, step 2 of 3 (sigma 0.75): generator output (velocity) "
                        + "has 1 NaN/Inf of 24 values");
                assertThat(e.stage()).contains("generation: denoise");
                assertThat(e.position()).contains("step 2 of 3 (sigma 0.75)");
                assertThat(e.tensor()).contains("generator output (velocity)");
            });
            // the pipeline is still usable: the next request runs
            assertThat(p.generate(REQUEST).images()).hasSize(1);
        }
    }

    @Test
    void aNonFiniteTextEncoderOutputIsCaughtBeforeTheFirstStep() {
        AtomicInteger calls = new AtomicInteger();
        PromptEncoder poisoned = prompts -> {
            Conditioning c = PROMPTS.encode(prompts);
            return new Conditioning(c.tokens(), c.pooled().map(v -> v / 0f), c.mask(), c.extras());
        };
        try (TextToImagePipeline p = pipeline(poisoned, generator(-1, calls), ImageDecoder.identity())) {
            assertThatThrownBy(() -> p.generate(REQUEST)).isInstanceOf(NumericalException.class)
                    .hasMessageStartingWith("generation: text encoding, before step 1 of 3: text encoder output (pooled "
                            + "embedding) has ");
            assertThat(calls).hasValue(0); // no generator call was wasted
        }
    }

    @Test
    void aNonFiniteDecoderOutputNamesTheDecodeStage() {
        ImageDecoder overflowing = z -> z.map(v -> v * Float.MAX_VALUE * 4);
        try (TextToImagePipeline p = pipeline(PROMPTS, generator(-1, new AtomicInteger()), overflowing)) {
            assertThatThrownBy(() -> p.generate(REQUEST)).isInstanceOfSatisfying(NumericalException.class, e -> {
                assertThat(e.stage()).contains("generation: decode");
                assertThat(e.position()).contains("after step 3 of 3");
                assertThat(e.tensor()).contains("decoder output (pixels)");
            });
            // latents-only requests never reach the decoder
            assertThat(p.generate(REQUEST.toBuilder().decode(false).build()).latents().isFinite()).isTrue();
        }
    }

    @Test
    void latentsThatOverflowInTheSchedulerStepAreCaught() {
        Generator huge = new Generator() {
            @Override
            public Tensor predict(Tensor x, float[] s, Conditioning c) {
                return Tensor.full(Float.MAX_VALUE, x.shape()); // finite, but x0 = x - s v overflows from x = -MAX
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
        try (TextToImagePipeline p = pipeline(PROMPTS, huge, ImageDecoder.identity())) {
            GenerationRequest r = REQUEST.toBuilder().latents(Tensor.full(-Float.MAX_VALUE, 1, 3, 2, 4)).build();
            assertThatThrownBy(() -> p.generate(r)).isInstanceOfSatisfying(NumericalException.class, e -> {
                assertThat(e.position()).contains("step 1 of 3 (sigma 1.0)");
                assertThat(e.tensor()).contains("latents after the scheduler step");
            });
        }
    }

    @Test
    void cancellingDuringTheLastStepSkipsTheDecoder() {
        AtomicInteger decoded = new AtomicInteger();
        ImageDecoder counting = z -> {
            decoded.incrementAndGet();
            return z;
        };
        try (TextToImagePipeline p = pipeline(PROMPTS, generator(-1, new AtomicInteger()), counting)) {
            CancellationToken token = new CancellationToken();
            assertThatThrownBy(() -> p.generate(REQUEST, step -> {
                if (step.step() == step.totalSteps()) {
                    token.cancel();
                }
            }, token)).isInstanceOf(CancelledException.class).hasMessageContaining("before decoding");
            assertThat(decoded).hasValue(0);
        }
    }

    @Test
    void closingTwiceClosesComponentsOnceAndUseAfterCloseThrows() {
        AtomicInteger closed = new AtomicInteger();
        ImageDecoder dec = new ImageDecoder() {
            @Override
            public Tensor decode(Tensor latents) {
                return latents;
            }

            @Override
            public void close() {
                closed.incrementAndGet();
            }
        };
        TextToImagePipeline p = TextToImagePipeline.builder().modelName("toy").promptEncoder(PROMPTS)
                .generator(generator(-1, new AtomicInteger())).decoder(dec).scheduler(FewStepScheduler.of(1.0))
                .guidanceMode(GuidanceMode.NONE).defaults(new ModelDefaults(1, 1, 4, 2)).closing(dec).build();
        assertThat(p.generate(REQUEST).images()).hasSize(1);
        p.close();
        p.close();
        assertThat(closed).hasValue(1);
        assertThatThrownBy(() -> p.generate(REQUEST)).isInstanceOf(IllegalStateException.class)
                .hasMessage("TextToImagePipeline toy is closed");
        assertThatThrownBy(() -> p.generate(GenerationRequest.builder().prompts(List.of("a", "b")).build()))
                .isInstanceOf(IllegalStateException.class);
    }
}
