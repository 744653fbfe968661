package io.senseflow.onnx.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.senseflow.CancelledException;
import io.senseflow.distill.Distiller;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.TextToImagePipeline;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cancellation from another thread, through the public API: an ONNX Runtime pipeline generating a long run of steps
 * and a distillation run are cancelled by a second thread at seeded random moments; each stops with a
 * {@link CancelledException} after finishing at most the one step (iteration) that was running when
 * {@link CancellationToken#cancel()} returned. The work done before the cancellation is kept: the cancelled
 * distillation continues to exactly the state of a run that was never cancelled.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CancellationTest {
    static final int TRIALS = 12;
    static final Pattern BEFORE_STEP = Pattern.compile("generation cancelled before step (\\d+) of (\\d+)");
    static final Pattern BEFORE_ITERATION = Pattern.compile("distillation cancelled before iteration (\\d+)");

    @TempDir
    Path dir;

    /** What one cancelled run showed: units done when cancel() was called and when it returned, and when it stopped. */
    record Trial(long doneBeforeCancel, long doneAfterCancel, long doneAtStop, long latencyNanos) {
        /** @return the steps (iterations) that ran after the token was cancelled: at most the one in flight */
        long ranAfterCancel() {
            return doneAtStop - doneAfterCancel;
        }
    }

    /**
     * Starts {@code work} on a thread, waits until it has done {@code after} units, lets it run a seeded random
     * moment longer, cancels, and measures when it stops.
     *
     * @param work runs until cancelled, reporting each finished unit to its consumer; returns nothing
     * @param stopped reads the number of finished units from the cancellation message
     */
    static Trial cancelMidway(java.util.function.BiConsumer<LongConsumer, CancellationToken> work,
            java.util.function.Function<CancelledException, Long> stopped, long after, long pauseMicros) throws Exception {
        AtomicLong done = new AtomicLong();
        CountDownLatch started = new CountDownLatch(1);
        CancellationToken token = new CancellationToken();
        ExecutorService worker = Executors.newSingleThreadExecutor();
        try {
            Future<Object[]> result = worker.submit(() -> {
                Throwable t = catchThrowable(() -> work.accept(n -> {
                    done.set(n);
                    if (n >= after) {
                        started.countDown();
                    }
                }, token));
                return new Object[] {t, System.nanoTime()};
            });
            assertThat(started.await(60, TimeUnit.SECONDS)).as("the run got going").isTrue();
            TimeUnit.MICROSECONDS.sleep(pauseMicros);
            long before = done.get();
            long cancelledAt = System.nanoTime();
            token.cancel();
            long afterCancel = done.get();
            Object[] r = result.get(60, TimeUnit.SECONDS);
            assertThat((Throwable) r[0]).isInstanceOf(CancelledException.class);
            return new Trial(before, afterCancel, stopped.apply((CancelledException) r[0]), (long) r[1] - cancelledAt);
        } finally {
            worker.shutdownNow();
        }
    }

    static String summary(String what, Trial[] trials, double unitMillis) {
        long[] lat = Arrays.stream(trials).mapToLong(Trial::latencyNanos).sorted().toArray();
        return String.format(java.util.Locale.ROOT, "CancellationTest %s: %d trials, one unit %.2f ms on average, "
                + "units run after cancel() returned: max %d; cancel-to-exception latency median %.2f ms, max %.2f ms",
                what, trials.length, unitMillis, Arrays.stream(trials).mapToLong(Trial::ranAfterCancel).max().orElse(-1),
                lat[lat.length / 2] / 1e6, lat[lat.length - 1] / 1e6);
    }

    @Test
    void anOrtPipelineCancelledFromAnotherThreadStopsWithinOneStep() throws Exception {
        int steps = 2000;
        TinyModelFolders.sd3(dir.resolve("sd3"));
        try (LoadedModel m = Models.load(dir.resolve("sd3"), ConcurrentGenerationTest.OPTIONS)) {
            TextToImagePipeline p = m.pipeline();
            GenerationRequest request = GenerationRequest.builder().prompt("a red cat").numInferenceSteps(steps).seed(5).build();
            long t0 = System.nanoTime();
            p.generate(request.toBuilder().numInferenceSteps(200).build());
            double stepMillis = (System.nanoTime() - t0) / 1e6 / 200;
            Random r = new Random(31);
            Trial[] trials = new Trial[TRIALS];
            for (int i = 0; i < TRIALS; i++) {
                trials[i] = cancelMidway((progress, token) -> p.generate(request, s -> progress.accept(s.step()), token), e -> {
                    Matcher mm = BEFORE_STEP.matcher(e.getMessage());
                    assertThat(mm.matches()).as(e.getMessage()).isTrue();
                    assertThat(mm.group(2)).isEqualTo(String.valueOf(steps));
                    return Long.parseLong(mm.group(1)) - 1;
                }, 1 + r.nextInt(20), r.nextInt(3000));
                Trial t = trials[i];
                assertThat(t.doneAtStop()).as("trial %d: %s", i, t).isBetween(t.doneBeforeCancel(), (long) steps - 1);
                assertThat(t.ranAfterCancel()).as("trial %d: %s", i, t).isBetween(0L, 1L);
            }
            System.out.println(summary("ORT generation (SD3-like fixture, " + steps + "-step requests)", trials, stepMillis));
            // the pipeline is still usable and still deterministic after the cancelled runs
            GenerationRequest small = request.toBuilder().numInferenceSteps(3).build();
            assertThat(p.generate(small).latents()).isEqualTo(p.generate(small).latents());
        }
    }

    @Test
    void aDistillationCancelledFromAnotherThreadStopsWithinOneIterationAndLosesNothing() throws Exception {
        long iterations = 100_000;
        Random r = new Random(32);
        Trial[] trials = new Trial[TRIALS / 2];
        double iterationMillis = 0;
        for (int i = 0; i < trials.length; i++) {
            Distiller d = CrashRun.distiller(CrashRun.config(iterations));
            AtomicLong nanos = new AtomicLong();
            trials[i] = cancelMidway((progress, token) -> {
                d.addListener(metrics -> progress.accept(metrics.iteration() + 1));
                long s = System.nanoTime();
                try {
                    d.run(token);
                } finally {
                    nanos.set(System.nanoTime() - s);
                }
            }, e -> {
                Matcher mm = BEFORE_ITERATION.matcher(e.getMessage());
                assertThat(mm.matches()).as(e.getMessage()).isTrue();
                return Long.parseLong(mm.group(1));
            }, 2 + r.nextInt(10), r.nextInt(20_000));
            Trial t = trials[i];
            assertThat(t.ranAfterCancel()).as("trial %d: %s", i, t).isBetween(0L, 1L);
            assertThat(d.iteration()).isEqualTo(t.doneAtStop());
            iterationMillis += nanos.get() / 1e6 / t.doneAtStop() / trials.length;
            if (i == 0) {
                // continuing the cancelled run reaches the uninterrupted run's state bit for bit
                long end = t.doneAtStop() + 3;
                d.runUntil(end, CancellationToken.none());
                Distiller straight = CrashRun.distiller(CrashRun.config(iterations));
                straight.runUntil(end, CancellationToken.none());
                assertThat(CrashRun.same(d.snapshot(), straight.snapshot())).isTrue();
            }
        }
        System.out.println(summary("distillation (reference backend, SenseFlow recipe)", trials, iterationMillis));
    }
}
