package io.senseflow.onnx.reliability;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A second JVM running a {@code main} of the test classes with this JVM's class path: for measurements that must not
 * share a heap with the test runner (resident memory) and for runs that are killed on purpose (SIGKILL). The child's
 * standard output is read line by line; its standard error goes to a file, shown when something fails.
 */
final class ChildJvm implements AutoCloseable {
    private final Process process;
    private final BufferedReader out;
    private final Writer in;
    private final Path errors;

    private ChildJvm(Process process, Path errors) {
        this.process = process;
        this.errors = errors;
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
    }

    /**
     * @param main the class whose {@code main} runs
     * @param jvmOptions options for the child JVM (heap size, ...)
     * @param errors where its standard error goes
     * @param args the program's arguments
     * @return the started child
     */
    static ChildJvm start(Class<?> main, List<String> jvmOptions, Path errors, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        cmd.add("-Djava.awt.headless=true");
        cmd.add("-Dai.djl.offline=true");
        String djlCache = System.getProperty("ENGINE_CACHE_DIR");
        if (djlCache != null) {
            cmd.add("-DENGINE_CACHE_DIR=" + djlCache);
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(errors.toFile());
        return new ChildJvm(pb.start(), errors);
    }

    /** @return the next line of the child's output, or null at its end */
    String readLine() throws IOException {
        return out.readLine();
    }

    /** @return the next line that starts with {@code prefix}, or null if the output ends first */
    String readUntil(String prefix) throws IOException {
        for (String line = out.readLine(); line != null; line = out.readLine()) {
            if (line.startsWith(prefix)) {
                return line;
            }
        }
        return null;
    }

    /** Sends a line to the child's standard input. */
    void send(String line) throws IOException {
        in.write(line + "\n");
        in.flush();
    }

    /** Kills the child with SIGKILL (no shutdown hooks, no finally blocks) and waits until it is gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor();
    }

    /** @return the exit code, waiting at most {@code seconds} */
    int waitFor(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("the child JVM did not end within " + seconds + " s; stderr:\n" + errors());
        }
        return process.exitValue();
    }

    long pid() {
        return process.pid();
    }

    /** @return what the child wrote to standard error so far */
    String errors() {
        try {
            return Files.readString(errors);
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}
