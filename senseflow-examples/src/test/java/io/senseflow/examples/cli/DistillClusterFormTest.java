package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.fixtures.Fixtures;
import io.senseflow.tf.distributed.ClusterSpec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The multi-machine form on loopback: two JVMs started by hand with {@code senseflow distill ... --cluster A,B --task
 * i} (what a user types on each machine) both exit 0, worker 0 writes the run folder and the student, worker 1 says it
 * is done. Experiment tag (two more JVM builds of the SD3 graphs, ~40 s on the shared machine); the default suite's
 * {@code DistillDataParallelTest} covers the same worker program through {@code --workers 2}. Processes ended by
 * their handles.
 */
@Tag("experiment")
class DistillClusterFormTest {
    @TempDir
    Path dir;

    @Test
    void cluster() throws Exception {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle on a blue square\nthree small yellow triangles\n");
        ClusterSpec spec = ClusterSpec.loopback(2);
        Path run = dir.resolve("run");
        List<Process> ps = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", System.getProperty("java.class.path"), SenseFlowCli.class.getName(), "distill", "--teacher",
                    teacher.toString(), "--prompts", prompts.toString(), "--recipe", "dmd+ida+isg", "--iterations", "4",
                    "--batch", "2", "--checkpoint-every", "2", "--size", "64x64", "--t5-length", "24", "--threads", "1",
                    "--cluster", spec.toString(), "--task", String.valueOf(k), "--out", run.toString()));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(dir.resolve("log-" + k).toFile());
            pb.environment().put("TF_ENABLE_ONEDNN_OPTS", "0");
            ps.add(pb.start());
        }
        try {
            for (int k = 0; k < 2; k++) {
                assertThat(ps.get(k).waitFor(240, TimeUnit.SECONDS)).isTrue();
                String log = Files.readString(dir.resolve("log-" + k));
                assertThat(ps.get(k).exitValue()).as(log).isZero();
                assertThat(log).contains(k == 0 ? "student:" : "worker 1 of 2 done");
            }
            assertThat(run.resolve("student")).isDirectory();
            assertThat(((Number) io.senseflow.json.Json.parseObject(Files.readString(run.resolve("run.json"))).asMap()
                    .get("workers")).longValue()).isEqualTo(2L);
        } finally {
            for (Process p : ps) {
                p.destroyForcibly();
            }
        }
    }
}
