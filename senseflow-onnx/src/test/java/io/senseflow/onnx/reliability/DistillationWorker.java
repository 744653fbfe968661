package io.senseflow.onnx.reliability;

import io.senseflow.distill.Distiller;
import io.senseflow.onnx.checkpoint.Checkpoint;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.pipeline.CancellationToken;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The child JVM of {@link CrashResumeTest}: resumes {@link CrashRun} from the latest checkpoint in a folder (if any),
 * runs it to the given iteration and checkpoints every {@code every} iterations, reporting on standard output:
 * {@code resumed <iteration>}, {@code iteration <i>} after each iteration, {@code saving <i>} / {@code saved <i>} around
 * each checkpoint, {@code done} at the end.
 *
 * <p>Each checkpoint carries an extra file ({@code extras/progress}, 256 kB written in 16 forced chunks), which makes the
 * write window wide. With {@code pause-at-save <n>}, the n-th save of this process stops halfway through that file,
 * prints {@code writing <i>} and waits for a line on standard input: the test kills it exactly there.
 *
 * <p>Arguments: {@code <folder> <iterations> <every> [pause-at-save <n>]}.
 */
public final class DistillationWorker {
    private static final int CHUNKS = 16;
    private static final int CHUNK = 16 * 1024;

    private DistillationWorker() {
    }

    public static void main(String[] args) throws IOException {
        Path folder = Path.of(args[0]);
        long iterations = Long.parseLong(args[1]);
        long every = Long.parseLong(args[2]);
        int pauseAt = args.length > 4 && args[3].equals("pause-at-save") ? Integer.parseInt(args[4]) : -1;
        Distiller distiller = CrashRun.distiller(CrashRun.config(iterations));
        CheckpointStore store = CheckpointStore.builder(folder).keepLast(2).build();
        Optional<Checkpoint> latest = store.loadLatest();
        latest.ifPresent(cp -> cp.restore(distiller));
        say("resumed " + distiller.iteration());
        int[] saves = {0};
        distiller.addListener(m -> {
            say("iteration " + m.iteration());
            long done = m.iteration() + 1;
            if (done % every == 0) {
                saves[0]++;
                boolean pause = saves[0] == pauseAt;
                say("saving " + done);
                store.save(distiller.snapshot(), Map.of("progress", ch -> progress(ch, done, pause)),
                        Map.of("writer", "DistillationWorker"));
                say("saved " + done);
            }
        });
        distiller.run(CancellationToken.none());
        say("done");
    }

    private static void progress(java.nio.channels.FileChannel ch, long iteration, boolean pause) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocate(CHUNK);
        for (int c = 0; c < CHUNKS; c++) {
            chunk.clear();
            while (chunk.hasRemaining()) {
                chunk.putLong(iteration * 1_000 + c);
            }
            chunk.flip();
            while (chunk.hasRemaining()) {
                ch.write(chunk);
            }
            ch.force(false);
            if (pause && c == CHUNKS / 2) {
                say("writing " + iteration);
                System.in.read(); // the test kills this process here
            }
        }
    }

    private static void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

}
