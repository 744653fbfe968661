package io.senseflow.examples.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resident memory over 1,000 generations on the bundled Shapes teacher (an experiment, excluded from the default run:
 * {@code -Dexcluded.groups= -Dgroups=experiment}; the CI version is senseflow-onnx's {@code NativeMemoryTest} on a
 * generated model). The generations run in a child JVM with a fixed, pre-touched heap, so growth of {@code VmRSS} is
 * native memory (ONNX Runtime, the tokenizer) or code caches, not the Java heap filling up. RSS after 1,000
 * generations must stay within 10 % of RSS after 100. The figures go to {@code target/reliability/shapes-rss.txt}.
 */
@EnabledOnOs(OS.LINUX)
class BundledModelMemoryTest {
    static final List<String> JVM = List.of("-Xms192m", "-Xmx192m", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC");

    @TempDir
    Path dir;

    @Test
    @Tag("experiment")
    @Timeout(value = 40, unit = TimeUnit.MINUTES)
    void residentMemoryAfterAThousandGenerationsIsWithinTenPercentOfThatAfterAHundred() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(JVM);
        cmd.addAll(List.of("-Djava.awt.headless=true", "-Dai.djl.offline=true"));
        if (System.getProperty("ENGINE_CACHE_DIR") != null) {
            cmd.add("-DENGINE_CACHE_DIR=" + System.getProperty("ENGINE_CACHE_DIR"));
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ShapesRssProbe.class.getName()));
        cmd.addAll(List.of("10", "100", "250", "500", "750", "1000"));
        Path errors = dir.resolve("probe.stderr");
        Process child = new ProcessBuilder(cmd).redirectError(errors.toFile()).start();
        Map<Integer, Long> rss = new LinkedHashMap<>();
        Map<Integer, String> seconds = new LinkedHashMap<>();
        boolean closed = false;
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line = out.readLine(); line != null; line = out.readLine()) {
                String[] p = line.split(" ");
                if (p[0].equals("rss")) {
                    rss.put(Integer.parseInt(p[1]), Long.parseLong(p[2]));
                    seconds.put(Integer.parseInt(p[1]), p[3]);
                }
                closed |= line.equals("closed");
            }
            assertThat(child.waitFor(30, TimeUnit.MINUTES)).isTrue();
            assertThat(child.exitValue()).as(Files.readString(errors)).isZero();
        } finally {
            child.destroyForcibly();
        }
        assertThat(closed).as("the probe closed the model").isTrue();
        double growth = (double) rss.get(1000) / rss.get(100) - 1;
        String line = String.format(java.util.Locale.ROOT, "BundledModelMemoryTest: Shapes teacher, 2 images x 50 steps per "
                + "generation; VmRSS kB by generations %s (seconds %s); growth 100 -> 1000: %+.2f %%", rss, seconds, 100 * growth);
        System.out.println(line);
        Files.writeString(Files.createDirectories(Path.of("target", "reliability")).resolve("shapes-rss.txt"), line + "\n");
        assertThat(growth).as(line).isLessThan(0.10);
    }
}
