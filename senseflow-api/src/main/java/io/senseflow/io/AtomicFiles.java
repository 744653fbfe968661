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
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + abs.getFileName() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writer.write(ch);
                ch.force(true);
            }
            readableByOthers(tmp, abs);
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            syncDirectory(dir);
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException("could not write " + abs + ": " + e, e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
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
