package io.senseflow.onnx.reliability;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A small tmpfs mounted for a test, to run writes into a really full (ENOSPC) or really read-only (EROFS) file system
 * rather than a simulated one. Mounting needs Linux and root (the development sandbox has both); {@link #mount}
 * returns null where that fails, and tests then fall back to writers that fail midway.
 */
final class Tmpfs implements AutoCloseable {
    /** The page size tmpfs allocates in (x86-64, aarch64 with 4 KiB pages). */
    static final int PAGE = 4096;

    private final Path dir;

    private Tmpfs(Path dir) {
        this.dir = dir;
    }

    /** @return the mounted file system of {@code bytes} at {@code dir}, or null if it cannot be mounted here */
    static Tmpfs mount(Path dir, long bytes) {
        if (!System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return null;
        }
        try {
            Files.createDirectories(dir);
            if (run("mount", "-t", "tmpfs", "-o", "size=" + bytes, "tmpfs", dir.toString()) != 0) {
                return null;
            }
            return new Tmpfs(dir);
        } catch (IOException | InterruptedException e) {
            return null;
        }
    }

    Path dir() {
        return dir;
    }

    /** @return the free bytes */
    long free() throws IOException {
        return Files.getFileStore(dir).getUsableSpace();
    }

    /**
     * Fills the file system with a file until at most {@code leave} bytes are free, and checks that it did: the free
     * space is measured again after each round (a short write, or an allocation the free count reflects late, only
     * means another round), so a test that relies on a full disk never runs on one with room to spare.
     *
     * @return the filler file, to delete to make room again
     * @throws IOException if the free space cannot be brought down to {@code leave} bytes
     */
    Path fillLeaving(long leave) throws IOException {
        Path filler = dir.resolve("filler");
        ByteBuffer chunk = ByteBuffer.allocate(PAGE * 16);
        try (FileChannel ch = FileChannel.open(filler, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            for (int round = 0; round < 8 && free() > leave; round++) {
                // tmpfs hands out whole pages: write whole pages, the last one rounded up
                for (long todo = (free() - leave + PAGE - 1) / PAGE * PAGE; todo > 0; ) {
                    chunk.clear().limit((int) Math.min(chunk.capacity(), todo));
                    while (chunk.hasRemaining()) {
                        todo -= ch.write(chunk);
                    }
                }
                ch.force(true);
            }
        }
        if (free() > leave) {
            throw new IOException("could not fill " + dir + ": " + free() + " bytes free, wanted at most " + leave);
        }
        return filler;
    }

    /** Makes the file system read-only (or writable again). */
    void readOnly(boolean on) throws IOException, InterruptedException {
        if (run("mount", "-o", "remount," + (on ? "ro" : "rw"), dir.toString()) != 0) {
            throw new IOException("could not remount " + dir + (on ? " read-only" : " read-write"));
        }
    }

    private static int run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(cmd)).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            return -1;
        }
        return p.exitValue();
    }

    @Override
    public void close() throws IOException, InterruptedException {
        if (run("umount", dir.toString()) != 0) {
            run("umount", "-l", dir.toString());
        }
    }
}
