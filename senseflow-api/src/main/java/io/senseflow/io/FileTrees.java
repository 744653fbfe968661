package io.senseflow.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Whole folder trees: copy, delete, and the emptiness test that run and export folders need. Internal: shared by
 * the SDK's modules, not part of the public API. Stateless and thread-safe (concurrent changes to the same tree
 * are the caller's to avoid).
 */
public final class FileTrees {
    private FileTrees() {
    }

    /**
     * Copies {@code from} and everything below it to {@code to}, keeping file attributes.
     *
     * @param from an existing folder
     * @param to where the copy goes; existing files there are not overwritten
     * @throws IOException on the first file that cannot be copied
     */
    public static void copy(Path from, Path to) throws IOException {
        List<Path> all;
        try (Stream<Path> s = Files.walk(from)) {
            all = s.toList();
        }
        for (Path p : all) {
            Path target = to.resolve(from.relativize(p).toString());
            if (Files.isDirectory(p)) {
                Files.createDirectories(target);
            } else {
                Files.copy(p, target, StandardCopyOption.COPY_ATTRIBUTES);
            }
        }
    }

    /**
     * Deletes {@code dir} and everything below it; nothing happens when it does not exist.
     *
     * @param dir a folder (or file)
     * @throws IOException on the first entry that cannot be deleted
     */
    public static void delete(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        List<Path> all;
        try (Stream<Path> s = Files.walk(dir)) {
            all = s.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : all) {
            Files.deleteIfExists(p);
        }
    }

    /**
     * As {@link #delete(Path)}, best effort: entries that cannot be deleted are left in place.
     *
     * @param dir a folder (or file)
     */
    public static void deleteQuietly(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        List<Path> all;
        try (Stream<Path> s = Files.walk(dir)) {
            all = s.sorted(Comparator.reverseOrder()).toList();
        } catch (IOException | java.io.UncheckedIOException e) {
            return;
        }
        for (Path p : all) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // best effort: the rest is still deleted
            }
        }
    }

    /**
     * @param dir a path
     * @return whether it is a folder with nothing in it (false when it cannot be read)
     */
    public static boolean isEmptyDirectory(Path dir) {
        if (!Files.isDirectory(dir)) {
            return false;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }
}
