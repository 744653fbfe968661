package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;

/** Checks and helpers the training and evaluation commands share. */
final class Outputs {
    private Outputs() {
    }

    /**
     * Creates the folder if needed and checks that files can be written into it, before any work starts.
     *
     * @param dir the folder
     * @param option the option that named it, for the message
     * @throws InvalidRequestException naming the option, the folder and the cause
     */
    static void requireWritableFolder(Path dir, String option) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw InvalidRequestException.of(option, "a folder", dir + " (an existing file)");
        }
        try {
            Files.createDirectories(dir);
            Path probe = Files.createTempFile(dir, ".write-check", ".tmp");
            Files.delete(probe);
        } catch (IOException | SecurityException e) {
            throw InvalidRequestException.of(option, "a writable folder", dir + " (" + e + ")");
        }
    }

    /** @param spec the running subcommand @return {@code senseflow <subcommand> <args...>} as given */
    static List<String> commandLine(CommandLine.Model.CommandSpec spec) {
        List<String> out = new ArrayList<>();
        out.add("senseflow");
        CommandLine root = spec.commandLine();
        while (root.getParent() != null) {
            root = root.getParent();
        }
        CommandLine.ParseResult pr = root.getParseResult();
        if (pr != null) {
            out.addAll(pr.originalArgs()); // the subcommand's name included
        } else {
            out.add(spec.name());
        }
        return out;
    }

    /** @param keysAndValues alternating keys and values @return an insertion-ordered map (stable JSON key order) */
    static java.util.Map<String, Object> ordered(Object... keysAndValues) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            m.put((String) keysAndValues[i], keysAndValues[i + 1]);
        }
        return m;
    }
}
