package io.senseflow.tf.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.distill.DataShard;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.GradientReducer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel runs across real worker JVMs on loopback: TensorFlow's gRPC server and CollectiveReduceV2 in every
 * worker, the launcher supervising them. Every process is ended by its handle (the launcher's finally), every test is
 * bounded in time.
 */
class DataParallelRunTest {
    private static final List<String> ARGS = List.of("batch=12", "iterations=20");

    private static TrainingSnapshot oneProcess(List<String> args) {
        List<AutoCloseable> owned = new java.util.ArrayList<>();
        try {
            Distiller d = MixtureJob.build(DataShard.single(), GradientReducer.none(), args, owned::add);
            d.run(CancellationToken.none());
            return d.snapshot();
        } finally {
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    private static DataParallelLauncher.Builder launcher(Path dir, int workers) {
        return DataParallelLauncher.builder().workers(workers).job(MixtureJob.class).runDir(dir)
                .collectiveTimeout(Duration.ofSeconds(20)).grace(Duration.ofSeconds(3))
                .attemptTimeout(Duration.ofSeconds(150)).fingerprintEvery(5).javaOptions(List.of("-Xmx256m",
                        "-XX:TieredStopAtLevel=1", "-Xshare:auto"));
    }

    private static TrainingSnapshot finalCheckpoint(Path dir) {
        return DataParallelWorker.checkpoints(dir).loadLatest().orElseThrow().snapshot();
    }

    private static double maxDiff(TrainingSnapshot a, TrainingSnapshot b) {
        assertThat(a.parameters().keySet()).isEqualTo(b.parameters().keySet());
        double d = 0;
        for (String m : a.parameters().keySet()) {
            for (Map.Entry<String, Tensor> e : a.parameters().get(m).entrySet()) {
                float[] x = e.getValue().toArray();
                float[] y = b.parameters().get(m).get(e.getKey()).toArray();
                for (int i = 0; i < x.length; i++) {
                    d = Math.max(d, Math.abs(x[i] - y[i]));
                }
            }
        }
        return d;
    }

    private static void assertSameFingerprints(DataParallelLauncher.Result r, int workers) {
        assertSameFingerprints(r, workers, 20);
    }

    private static void assertSameFingerprints(DataParallelLauncher.Result r, int workers, int iterations) {
        assertThat(r.statuses()).hasSize(workers);
        String fp = r.statuses().get(0).get("fingerprint");
        assertThat(fp).isNotBlank();
        for (Map<String, String> s : r.statuses()) {
            assertThat(s.get("status")).isEqualTo("ok");
            assertThat(s.get("iteration")).isEqualTo(String.valueOf(iterations));
            assertThat(s.get("fingerprint")).isEqualTo(fp);
        }
    }

    @Test
    @Timeout(240)
    void twoAndThreeWorkerJvmsFollowTheOneProcessRunAtTheSameGlobalBatch(@TempDir Path tmp) {
        for (int n : new int[] {2, 3}) {
            // 2 workers on the reference MLPs, 3 on TensorFlow modules (gradients read and replaced in TF graphs)
            List<String> args = n == 2 ? ARGS : List.of("batch=12", "iterations=20", "modules=tf");
            TrainingSnapshot single = oneProcess(args);
            Path dir = tmp.resolve("n" + n);
            DataParallelLauncher.Result r = launcher(dir, n).jobArguments(args).build().run();
            assertThat(r.attempts()).isEqualTo(1);
            assertSameFingerprints(r, n);
            TrainingSnapshot dp = finalCheckpoint(dir);
            assertThat(dp.iteration()).isEqualTo(20);
            assertThat(ParameterFingerprint.of(dp)).as("checkpoint = workers' parameters")
                    .isEqualTo(Long.parseUnsignedLong(r.statuses().get(0).get("fingerprint"), 16));
            assertThat(maxDiff(dp, single)).as("%d workers vs one process", n).isLessThan(1e-6);
            assertThat(Long.parseLong(r.statuses().get(0).get("collective_bytes"))).as("gradients went through TF")
                    .isGreaterThan(0);
            Map<String, String> s0 = r.statuses().get(0);
            assertThat(Long.parseLong(s0.get("allreduce_ms"))).isPositive()
                    .isLessThanOrEqualTo(Long.parseLong(s0.get("iterations_ms")));
            System.out.printf("data-parallel %d workers (%s): all-reduce %s ms of %s ms of iterations, %s bytes%n", n,
                    args, s0.get("allreduce_ms"), s0.get("iterations_ms"), s0.get("collective_bytes"));
        }
    }

    @Test
    @Timeout(240)
    void aWorkerKilledMidRunIsRestartedFromTheCheckpointAndTheRunEndsBitIdentical(@TempDir Path tmp) throws Exception {
        List<String> args = List.of("batch=12", "iterations=20", "pace-ms=150");
        Path clean = tmp.resolve("clean");
        launcher(clean, 2).jobArguments(ARGS).checkpointEvery(5).build().run();
        Path dir = tmp.resolve("killed");
        AtomicLong killedAt = new AtomicLong(-1);
        DataParallelLauncher.Result r = launcher(dir, 2).jobArguments(args).checkpointEvery(5).maxRestarts(1)
                .onAttempt((attempt, workers) -> {
                    if (attempt == 0) {
                        Thread t = new Thread(() -> killWhenPast(dir.resolve("workers/attempt-0-worker-1.log"), 7,
                                workers.get(1), killedAt));
                        t.setDaemon(true);
                        t.start();
                    }
                }).build().run();
        assertThat(killedAt.get()).as("worker 1 was killed mid-run").isBetween(7L, 19L);
        assertThat(r.attempts()).isEqualTo(2);
        assertThat(r.failures()).hasSize(1);
        WorkerFailureException f = r.failures().get(0);
        assertThat(f.worker()).isEqualTo(1);
        assertThat(f.failure()).isEqualTo(WorkerFailureException.Cause.DIED);
        assertThat(f.getMessage()).contains("signal 9");
        assertSameFingerprints(r, 2);
        assertThat(finalCheckpoint(dir).parameters()).isEqualTo(finalCheckpoint(clean).parameters());
    }

    @Test
    @Timeout(240)
    void worker0KilledWhileWritingACheckpointResumesFromThePreviousOneBitIdentical(@TempDir Path tmp) throws Exception {
        // wider modules: a checkpoint of a few MB, written (and forced to disk) slowly enough to be hit mid-way
        List<String> args = List.of("batch=12", "iterations=9", "width=320");
        Path clean = tmp.resolve("clean");
        launcher(clean, 2).jobArguments(args).checkpointEvery(3).build().run();
        Path dir = tmp.resolve("killed");
        AtomicLong hit = new AtomicLong(-1);
        DataParallelLauncher.Result r = launcher(dir, 2).jobArguments(args).checkpointEvery(3).maxRestarts(1)
                .onAttempt((attempt, workers) -> {
                    if (attempt == 0) {
                        Thread t = new Thread(() -> killInSecondCheckpoint(dir.resolve("checkpoints"),
                                workers.get(0), hit));
                        t.setDaemon(true);
                        t.start();
                    }
                }).build().run();
        assertThat(hit.get()).as("worker 0 was killed while its iteration-6 checkpoint was being written").isEqualTo(6);
        assertThat(r.attempts()).isEqualTo(2);
        assertThat(r.failures().get(0).worker()).isEqualTo(0);
        assertThat(r.failures().get(0).failure()).isEqualTo(WorkerFailureException.Cause.DIED);
        assertThat(Files.readString(dir.resolve("workers/attempt-1-worker-0.log"))).as("restart from the previous one")
                .contains(DataParallelWorker.PROGRESS + " 0 4");
        assertSameFingerprints(r, 2, 9);
        assertThat(finalCheckpoint(dir).parameters()).isEqualTo(finalCheckpoint(clean).parameters());
    }

    /** Kills worker 0 as soon as its temporary folder for the second checkpoint appears; records 6 if it was hit. */
    private static void killInSecondCheckpoint(Path checkpoints, Process p, AtomicLong hit) {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline && p.isAlive()) {
            boolean first = Files.isDirectory(checkpoints.resolve("checkpoint-000000003"));
            boolean writing = false;
            if (first) {
                try (var s = Files.list(checkpoints)) {
                    writing = s.anyMatch(f -> f.getFileName().toString().startsWith(".checkpoint-tmp-"));
                } catch (IOException e) {
                    writing = false;
                }
            }
            if (writing) {
                p.destroyForcibly();
                try {
                    p.waitFor();
                } catch (InterruptedException e) {
                    return;
                }
                // hit mid-write only if the second checkpoint never became complete
                hit.set(Files.isDirectory(checkpoints.resolve("checkpoint-000000006")) ? -6 : 6);
                return;
            }
            Thread.onSpinWait();
        }
    }

    @Test
    @Timeout(180)
    void aStoppedWorkerOrANanStopsTheRunWithATypedErrorNamingTheWorker(@TempDir Path tmp) throws Exception {
        // SIGSTOP: the others time out in their next collective, the launcher names the stopped worker
        Path dir = tmp.resolve("stopped");
        AtomicLong stoppedAtNanos = new AtomicLong();
        Duration timeout = Duration.ofSeconds(4);
        DataParallelLauncher.Builder b = launcher(dir, 2).jobArguments(List.of("batch=12", "iterations=200",
                "pace-ms=50")).collectiveTimeout(timeout).grace(Duration.ofSeconds(2)).maxRestarts(0)
                .onAttempt((attempt, workers) -> {
                    Thread t = new Thread(() -> {
                        waitForProgress(dir.resolve("workers/attempt-0-worker-0.log"), 3);
                        signal("STOP", workers.get(0).pid());
                        stoppedAtNanos.set(System.nanoTime());
                    });
                    t.setDaemon(true);
                    t.start();
                });
        assertThatThrownBy(() -> b.build().run()).isInstanceOfSatisfying(WorkerFailureException.class, e -> {
            assertThat(e.worker()).isEqualTo(0);
            assertThat(e.failure()).isEqualTo(WorkerFailureException.Cause.HUNG);
            long waited = System.nanoTime() - stoppedAtNanos.get();
            assertThat(waited).as("stopped within the bound").isLessThan(Duration.ofSeconds(4 + 2 + 8).toNanos());
        });
        // NaN in worker 1's slice: a deterministic failure, named and not retried
        Path nan = tmp.resolve("nan");
        assertThatThrownBy(() -> launcher(nan, 2).jobArguments(List.of("batch=12", "iterations=20", "poison=4:9"))
                .maxRestarts(2).build().run()).isInstanceOfSatisfying(WorkerFailureException.class, e -> {
                    assertThat(e.worker()).isEqualTo(1);
                    assertThat(e.failure()).isEqualTo(WorkerFailureException.Cause.NON_FINITE);
                    assertThat(e.retryable()).isFalse();
                    assertThat(e.getMessage()).contains("iteration 4").contains("NaN");
                    assertThat(e.getSuppressed()).isEmpty();
                });
    }

    private static void killWhenPast(Path log, long iteration, Process p, AtomicLong killedAt) {
        long seen = waitForProgress(log, iteration);
        if (seen >= 0) {
            p.destroyForcibly();
            killedAt.set(seen);
        }
    }

    /** @return the progress seen once it reached {@code iteration}, or -1 after 120 s */
    private static long waitForProgress(Path log, long iteration) {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (System.nanoTime() < deadline) {
            long last = -1;
            try {
                if (Files.isRegularFile(log)) {
                    for (String line : Files.readAllLines(log)) {
                        if (line.startsWith(DataParallelWorker.PROGRESS + " ")) {
                            last = Long.parseLong(line.substring(line.lastIndexOf(' ') + 1).trim());
                        }
                    }
                }
            } catch (IOException | NumberFormatException e) {
                last = -1;
            }
            if (last >= iteration) {
                return last;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return -1;
            }
        }
        return -1;
    }

    private static void signal(String sig, long pid) {
        try {
            new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).inheritIO().start().waitFor();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
