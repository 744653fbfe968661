package io.senseflow.examples.shapes;

import io.senseflow.io.AtomicFiles;
import io.senseflow.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How a shipped artifact was made ({@code provenance.json}): the command, the configuration, the seed, the iterations,
 * the wall time, the machine and the metrics measured at the end. Written atomically; keys keep their insertion order
 * so two runs with the same settings differ only in what they measured.
 */
public final class Provenance {
    /** The file name. */
    public static final String FILE = "provenance.json";

    private final Map<String, Object> values = new LinkedHashMap<>();

    private Provenance(String artifact) {
        values.put("artifact", artifact);
    }

    /** @param artifact what was made, e.g. {@code shapes-autoencoder} @return an empty record */
    public static Provenance of(String artifact) {
        return new Provenance(Objects.requireNonNull(artifact, "artifact"));
    }

    /** @param key a field @param value a JSON-ready value (String, Number, Boolean, List, Map) @return this */
    public Provenance put(String key, Object value) {
        values.put(Objects.requireNonNull(key, "key"), value);
        return this;
    }

    /** @param command the command line that made the artifact @return this */
    public Provenance command(List<String> command) {
        return put("command", String.join(" ", command));
    }

    /** @return this, with the machine described (OS, architecture, cores, CPU model, Java) */
    public Provenance machine() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("arch", System.getProperty("os.arch"));
        m.put("cores", (long) Runtime.getRuntime().availableProcessors());
        m.put("cpu", cpuModel());
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        return put("machine", m);
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"), StandardCharsets.UTF_8)) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or not readable: say so
        }
        return "unknown";
    }

    /** @return the fields */
    public Map<String, Object> toMap() {
        return java.util.Collections.unmodifiableMap(values);
    }

    /** @return the pretty JSON form */
    public String toJson() {
        return Json.writePretty(values);
    }

    /** @param dir the artifact's folder @return the written file */
    public Path writeTo(Path dir) {
        Path file = dir.resolve(FILE);
        AtomicFiles.write(file, (toJson() + "\n").getBytes(StandardCharsets.UTF_8));
        return file;
    }
}
