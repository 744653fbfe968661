package io.senseflow.onnx.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.Distiller;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.onnx.checkpoint.Checkpoint;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.pipeline.CancellationToken;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A distillation run in a child JVM ({@link DistillationWorker}) killed with SIGKILL, again and again, at random moments
 * and inside checkpoint writes. After every kill the latest checkpoint loads (sizes and checksums verified) and equals,
 * bit for bit, the state the uninterrupted run has at that iteration; no checkpoint that the child reported saved is
 * lost; and the run resumed after the last kill ends bit-identical to the uninterrupted run.
 */
class CrashResumeTest {
    static final long ITERATIONS = 120;
    static final long EVERY = 10;

    /** The uninterrupted run's state after every EVERY-th iteration, by iteration. */
    static final Map<Long, TrainingSnapshot> REFERENCE = new HashMap<>();

    @TempDir
    Path dir;

    @BeforeAll
    static void uninterruptedRun() {
        Distiller d = CrashRun.distiller(CrashRun.config(ITERATIONS));
        d.addListener(m -> {
            if ((m.iteration() + 1) % EVERY == 0) {
                REFERENCE.put(m.iteration() + 1, d.snapshot());
            }
        });
        d.run(CancellationToken.none());
        assertThat(REFERENCE).containsKey(ITERATIONS);
    }

    /** What the trials saw, for the summary. */
    static final class Tally {
        int kills;
        int killsDuringSave;
        int checkpointsVerified;
    }

    /** Starts a worker, checks that it resumed from the latest checkpoint, and returns it. */
    private ChildJvm start(Path runs, int trial, String... extra) throws IOException {
        String[] args = Stream.concat(Stream.of(runs.toString(), Long.toString(ITERATIONS), Long.toString(EVERY)),
                Stream.of(extra)).toArray(String[]::new);
        ChildJvm child = ChildJvm.start(DistillationWorker.class, List.of("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"),
                dir.resolve("worker-" + trial + ".stderr"), args);
        long expected = CheckpointStore.at(runs).latest().map(p -> CheckpointStore.load(p).iteration()).orElse(0L);
        assertThat(child.readUntil("resumed ")).as(child.errors()).isEqualTo("resumed " + expected);
        return child;
    }

    /**
     * After a kill: every checkpoint on disk loads and equals the uninterrupted run's state at its iteration, and the
     * latest is at least the last one the child reported saved.
     */
    private static void verify(Path runs, long lastSaved, long lastSaving, Tally tally) {
        CheckpointStore store = CheckpointStore.at(runs);
        for (Path p : store.list()) {
            Checkpoint cp = CheckpointStore.load(p);
            assertThat(CrashRun.same(cp.snapshot(), REFERENCE.get(cp.iteration())))
                    .as("checkpoint %s equals the uninterrupted run at iteration %d", p, cp.iteration()).isTrue();
            tally.checkpointsVerified++;
        }
        Optional<Checkpoint> latest = store.loadLatest();
        if (lastSaved > 0) {
            assertThat(latest).as("a checkpoint after the child reported saving iteration " + lastSaved).isPresent();
            assertThat(latest.get().iteration()).isBetween(lastSaved, Math.max(lastSaved, lastSaving));
        }
    }

    /**
     * Random kills, then a run to the end. Odd trials kill after a random number of output lines (within three
     * checkpoint intervals); even trials aim at a save: they wait for a random one of the next three {@code saving}
     * lines and kill a random 0-20 ms later, inside or just after that save.
     */
    private Tally killAtRandom(Path runs, int kills, long seed) throws Exception {
        Random rng = new Random(seed);
        Tally tally = new Tally();
        Files.createDirectories(runs);
        for (int trial = 0; trial < kills; trial++) {
            try (ChildJvm child = start(runs, trial)) {
                boolean aimAtSave = trial % 2 == 0;
                int trigger = aimAtSave ? 1 + rng.nextInt(3) : 1 + rng.nextInt((int) (3 * EVERY));
                long lastSaved = 0;
                long lastSaving = 0;
                boolean finished = false;
                int seen = 0;
                while (seen < trigger) {
                    String line = child.readLine();
                    if (line == null || line.equals("done")) {
                        finished = true;
                        break;
                    }
                    if (line.startsWith("saving ")) {
                        lastSaving = Long.parseLong(line.substring(7));
                    } else if (line.startsWith("saved ")) {
                        lastSaved = Long.parseLong(line.substring(6));
                    }
                    if (!aimAtSave || line.startsWith("saving ")) {
                        seen++;
                    }
                }
                if (finished) {
                    break;
                }
                LockSupport.parkNanos(rng.nextInt(aimAtSave ? 20_000_000 : 2_000_000));
                child.kill();
                tally.kills++;
                try (Stream<Path> left = Files.list(runs)) {
                    if (left.anyMatch(p -> p.getFileName().toString().startsWith(".checkpoint-"))) {
                        tally.killsDuringSave++; // a save's hidden folder was left behind: killed in the middle of it
                    }
                }
                verify(runs, lastSaved, lastSaving + EVERY, tally);
            }
        }
        finish(runs, tally);
        return tally;
    }

    /** Resumes and runs to the end: the final checkpoint equals the uninterrupted run; no leftovers remain. */
    private void finish(Path runs, Tally tally) throws Exception {
        try (ChildJvm child = start(runs, 999)) {
            assertThat(child.readUntil("done")).as(child.errors()).isEqualTo("done");
            assertThat(child.waitFor(120)).as(child.errors()).isZero();
        }
        Checkpoint last = CheckpointStore.at(runs).loadLatest().orElseThrow();
        assertThat(last.iteration()).isEqualTo(ITERATIONS);
        assertThat(CrashRun.same(last.snapshot(), REFERENCE.get(ITERATIONS))).as("the resumed run ends bit-identical").isTrue();
        tally.checkpointsVerified++;
        try (Stream<Path> s = Files.list(runs)) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactly("checkpoint-000000110", "checkpoint-000000120");
        }
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void randomKillsAlwaysLeaveALoadableCheckpointAndTheResumedRunEndsBitIdentical() throws Exception {
        Tally t = killAtRandom(dir.resolve("runs"), 6, 1);
        System.out.println("CrashResumeTest random: " + t.kills + " SIGKILLs (" + t.killsDuringSave + " in the middle of a "
                + "checkpoint save), " + t.checkpointsVerified + " checkpoints verified bit for bit");
        assertThat(t.kills).isEqualTo(6);
    }

    @Test
    @Timeout(value = 4, unit = TimeUnit.MINUTES)
    void killsInsideCheckpointWritesLeaveThePreviousCheckpointLoadable() throws Exception {
        Path runs = dir.resolve("runs");
        Tally tally = new Tally();
        // first process: killed halfway through its first save (iteration 10): nothing on disk but a hidden temporary
        // folder; later processes: killed halfway through their second save, with the checkpoint before it on disk
        for (int trial = 0; trial < 3; trial++) {
            try (ChildJvm child = start(runs, trial, "pause-at-save", trial == 0 ? "1" : "2")) {
                String writing = child.readUntil("writing ");
                assertThat(writing).as(child.errors()).isNotNull();
                long inFlight = Long.parseLong(writing.substring(8));
                try (Stream<Path> s = Files.list(runs)) {
                    assertThat(s.map(p -> p.getFileName().toString())).as("a save is in progress")
                            .anyMatch(n -> n.startsWith(".checkpoint-tmp-"));
                }
                child.kill();
                tally.kills++;
                tally.killsDuringSave++;
                Optional<Checkpoint> latest = CheckpointStore.at(runs).loadLatest();
                if (trial == 0) {
                    assertThat(latest).isEmpty();
                    assertThat(inFlight).isEqualTo(EVERY);
                } else {
                    assertThat(latest.orElseThrow().iteration()).isEqualTo(inFlight - EVERY);
                }
                verify(runs, inFlight - EVERY, inFlight, tally);
            }
        }
        finish(runs, tally);
        System.out.println("CrashResumeTest inside writes: " + tally.kills + " SIGKILLs halfway through a checkpoint file, "
                + tally.checkpointsVerified + " checkpoints verified bit for bit");
    }

    @Test
    @Tag("experiment")
    @Timeout(value = 60, unit = TimeUnit.MINUTES)
    void manyRandomKills() throws Exception {
        int total = 0;
        int duringSave = 0;
        int verified = 0;
        for (int round = 0; round < 10; round++) {
            Tally t = killAtRandom(dir.resolve("runs-" + round), 10, 100 + round);
            total += t.kills;
            duringSave += t.killsDuringSave;
            verified += t.checkpointsVerified;
        }
        System.out.println("CrashResumeTest experiment: " + total + " SIGKILLs (" + duringSave + " in the middle of a save), "
                + verified + " checkpoints verified bit for bit, 10 resumed runs bit-identical at iteration " + ITERATIONS);
    }
}
