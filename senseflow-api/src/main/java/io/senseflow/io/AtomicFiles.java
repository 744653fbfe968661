package io.senseflow.io;

import io.senseflow.CheckpointException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes that never leave a half-written file behind: the bytes go to a temporary file in the same folder,
 * are forced to disk, and the file is renamed over the destination in one atomic step. On failure the
 * temporary file is removed and the previous destination is untouched.
 *
 * <p>Stateless: writes to different paths from several threads are independent; concurrent writes to one path are not
 * coordinated (each is atomic, and the last rename wins).
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Produces the content of a file into an open channel. */
    @FunctionalInterface
    public interface Writer {
        /** @param channel the temporary file @throws IOException on failure */
        void write(FileChannel channel) throws IOException;
    }

    /**
     * @param target destination file
     * @param bytes content
     */
    public static void write(Path target, byte[] bytes) {
        write(target, ch -> {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        });
    }

    /**
     * @param target destination file
     * @param writer produces the content
     */
    public static void write(Path target, Writer writer) {
        writeAll(java.util.Map.of(target, writer));
    }

    /**
     * Writes files that belong together (a model and its external data file) so that a failure while producing any of
     * them changes none: every file is written to its temporary file and forced to disk first, and only then are they
     * renamed over their destinations, in the map's iteration order (put the file that refers to the others last).
     * A full disk or a failing writer therefore leaves all previous files as they were; only a crash between two renames
     * (no writing happens there) can leave the earlier ones replaced and the later ones not.
     *
     * @param targets destination files and what produces each, in the order they are renamed into place
     * @throws CheckpointException naming the file that could not be written
     */
    public static void writeAll(java.util.Map<Path, Writer> targets) {
        java.util.List<Path[]> staged = new java.util.ArrayList<>(); // {temporary, destination}
        Path current = null;
        try {
            for (java.util.Map.Entry<Path, Writer> e : targets.entrySet()) {
                Path abs = e.getKey().toAbsolutePath();
                current = abs;
                Path dir = abs.getParent();
                Files.createDirectories(dir);
                Path tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
                staged.add(new Path[] {tmp, abs});
                try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                    e.getValue().write(ch);
                    ch.force(true);
                }
                readableByOthers(tmp, abs);
            }
            while (!staged.isEmpty()) {
                Path[] s = staged.get(0);
                current = s[1];
                try {
                    Files.move(s[0], s[1], StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                } catch (AtomicMoveNotSupportedException e) {
                    Files.move(s[0], s[1], StandardCopyOption.REPLACE_EXISTING);
                }
                staged.remove(0);
                syncDirectory(s[1].getParent());
            }
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException("could not write " + current + ": " + e, e);
        } finally {
            for (Path[] s : staged) {
                try {
                    Files.deleteIfExists(s[0]);
                } catch (IOException ignored) {
                    // best effort: the temporary file is hidden and never read
                }
            }
        }
    }

    /**
     * Temporary files are created owner-only; the result should look like any other file the user writes: keep the
     * replaced file's permissions, or rw-r--r-- for a new one (where the file system has POSIX permissions).
     */
    private static void readableByOthers(Path tmp, Path target) {
        try {
            java.util.Set<java.nio.file.attribute.PosixFilePermission> perms = Files.exists(target)
                    ? Files.getPosixFilePermissions(target)
                    : java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--");
            Files.setPosixFilePermissions(tmp, perms);
        } catch (UnsupportedOperationException | IOException ignored) {
            // not a POSIX file system: keep the default
        }
    }

    private static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not every platform can open a directory; the rename itself is already atomic
        }
    }
}
