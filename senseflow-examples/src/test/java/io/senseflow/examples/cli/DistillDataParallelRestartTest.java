package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.tf.distributed.DataParallelLauncher;
import io.senseflow.tf.distributed.WorkerFailureException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A killed worker in a front-door data-parallel run: the front-door worker program ({@link FrontDoorWorker}, what
 * {@code senseflow distill --workers 2} runs) under {@link DataParallelLauncher}; worker 1 is SIGKILLed (by its
 * handle) once the first checkpoint exists; the launcher names it ({@code DIED}), restarts both workers, they resume
 * from the folder's latest checkpoint, and the run ends within 1e-6 of the one-process run of the same global batch,
 * with the student exported once. Experiment tag (about 1.5 minutes on the shared machine).
 */
@Tag("experiment")
class DistillDataParallelRestartTest {
    @TempDir
    Path dir;

    @Test
    void aKilledWorkerIsRestartedAndTheFrontDoorRunEndsAsTheOneProcessRun() throws Exception {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle on a blue square\nthree small yellow triangles\nune étoile verte\n");
        List<String> args = List.of("--teacher", teacher.toString(), "--prompts", prompts.toString(), "--iterations",
                "6", "--batch", "2", "--checkpoint-every", "2", "--size", "64x64", "--t5-length", "24", "--threads", "1",
                "--quiet");
        Path one = dir.resolve("run-1");
        List<String> cli = new ArrayList<>(List.of("distill"));
        cli.addAll(args);
        cli.addAll(List.of("--out", one.toString()));
        DistillCommandTest.Run a = DistillCommandTest.run(cli.toArray(String[]::new));
        assertThat(a.code()).as(a.err()).isZero();

        Path two = dir.resolve("run-2");
        List<String> workerArgs = new ArrayList<>(args);
        workerArgs.addAll(List.of("--out", two.toString()));
        AtomicLong killedAfter = new AtomicLong(-1);
        DataParallelLauncher.Result r = DataParallelLauncher.builder().workers(2).program(FrontDoorWorker.class)
                .jobArguments(workerArgs).runDir(two).collectiveTimeout(Duration.ofSeconds(60)).maxRestarts(1)
                .attemptTimeout(Duration.ofMinutes(4)).onAttempt((attempt, procs) -> {
                    if (attempt == 0) {
                        Thread t = new Thread(() -> killAfterFirstCheckpoint(two, procs.get(1), killedAfter));
                        t.setDaemon(true);
                        t.start();
                    }
                }).build().run();
        assertThat(killedAfter.get()).as("worker 1 was killed after a checkpoint").isPositive();
        assertThat(r.attempts()).isEqualTo(2);
        assertThat(r.failures()).hasSize(1);
        assertThat(r.failures().get(0).worker()).isEqualTo(1);
        assertThat(r.failures().get(0).failure()).isEqualTo(WorkerFailureException.Cause.DIED);
        assertThat(two.resolve("student")).isDirectory();

        TrainingSnapshot ref = DistillDataParallelTest.latest(one);
        TrainingSnapshot got = DistillDataParallelTest.latest(two);
        assertThat(got.iteration()).isEqualTo(6);
        double worst = DistillDataParallelTest.maxDifference(ref, got);
        System.out.printf("killed worker 1 after checkpoint %d, restarted: max difference to 1 process %.3g%n",
                killedAfter.get(), worst);
        assertThat(worst).isLessThanOrEqualTo(1e-6);
        assertThat(Files.readAllLines(two.resolve("losses.csv"))).doesNotHaveDuplicates()
                .hasSameSizeAs(Files.readAllLines(one.resolve("losses.csv")));
    }

    private static void killAfterFirstCheckpoint(Path run, Process worker, AtomicLong killedAfter) {
        long deadline = System.nanoTime() + Duration.ofMinutes(3).toNanos();
        while (System.nanoTime() < deadline && worker.isAlive()) {
            Path root = run.resolve("checkpoints");
            if (Files.isDirectory(root)) {
                var latest = CheckpointStore.at(root).latest();
                if (latest.isPresent()) {
                    killedAfter.set(CheckpointStore.load(latest.get()).iteration());
                    worker.destroyForcibly();
                    return;
                }
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                return;
            }
        }
    }
}
