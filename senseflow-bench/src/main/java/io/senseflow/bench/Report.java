package io.senseflow.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The harness's output: Markdown sections, tables and notes, echoed to a stream as they come (a long run shows its
 * tables as soon as each is measured) and kept for writing to a file.
 */
public final class Report {
    private final StringBuilder text = new StringBuilder();
    private final PrintStream echo;

    /** @param echo where each part is printed as it is added (null: nowhere) */
    public Report(PrintStream echo) {
        this.echo = echo;
    }

    /** @param title a level-2 heading @return this */
    public Report section(String title) {
        return add("\n## " + title + "\n\n");
    }

    /** @param title a level-3 heading @return this */
    public Report subsection(String title) {
        return add("\n### " + title + "\n\n");
    }

    /** @param t a table @return this */
    public Report table(Table t) {
        return add(t.markdown() + "\n");
    }

    /** @param line a paragraph @return this */
    public Report note(String line) {
        return add(line + "\n\n");
    }

    /** @return the Markdown so far */
    public String markdown() {
        return text.toString();
    }

    /** @param file written with the Markdown so far (parent folders created) */
    public void write(Path file) {
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            Files.writeString(file, text, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the report to " + file, e);
        }
    }

    private Report add(String s) {
        text.append(s);
        if (echo != null) {
            echo.print(s);
            echo.flush();
        }
        return this;
    }
}
