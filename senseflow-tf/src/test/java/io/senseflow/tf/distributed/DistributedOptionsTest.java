package io.senseflow.tf.distributed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Cluster specs and worker command lines: parsed, round-tripped, and bad ones refused by name before any start. */
class DistributedOptionsTest {

    @Test
    void clusterSpecsParseAndRefuseMalformedAddresses() {
        ClusterSpec c = ClusterSpec.parse("10.0.0.1:2222, host-b:2223,");
        assertThat(c.size()).isEqualTo(2);
        assertThat(c.address(1)).isEqualTo("host-b:2223");
        assertThat(ClusterSpec.parse(c.toString())).isEqualTo(c);
        assertThatThrownBy(() -> ClusterSpec.parse("a:1,a:1")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("distinct");
        assertThatThrownBy(() -> ClusterSpec.parse("hostonly")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("hostonly");
        assertThatThrownBy(() -> ClusterSpec.parse("h:70000")).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("1..65535");
        assertThatThrownBy(() -> ClusterSpec.parse(" , ")).isInstanceOf(InvalidRequestException.class);
        assertThatThrownBy(() -> c.address(2)).isInstanceOf(InvalidRequestException.class).hasMessageContaining("0..1");
        ClusterSpec local = ClusterSpec.loopback(3);
        assertThat(local.addresses()).hasSize(3).allMatch(a -> a.startsWith("127.0.0.1:"));
    }

    @Test
    void workerCommandLinesRoundTripAndNameWhatIsMissing() {
        DataParallelWorker.Options o = new DataParallelWorker.Options(MixtureJob.class.getName(),
                ClusterSpec.parse("a:1,b:2,c:3"), 2, Path.of("run"), Duration.ofMillis(1500), 10, 5,
                List.of("batch=6", "--odd"));
        DataParallelWorker.Options back = DataParallelWorker.parse(o.toArguments().toArray(String[]::new));
        assertThat(back).isEqualTo(o);
        assertThatThrownBy(() -> DataParallelWorker.parse(new String[] {"--job", "x", "--cluster", "a:1"}))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("--task");
        assertThatThrownBy(() -> DataParallelWorker.parse(new String[] {"--job", "x", "--cluster", "a:1", "--task",
                "1", "--run-dir", "r"})).isInstanceOf(InvalidRequestException.class).hasMessageContaining("task");
        assertThatThrownBy(() -> DataParallelWorker.parse(new String[] {"--job", "x", "--cluster", "a:1", "--task",
                "0", "--run-dir", "r", "--timeout-ms", "soon"})).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("--timeout-ms");
        assertThatThrownBy(() -> DataParallelLauncher.parse(new String[] {"--workers", "2", "--job",
                MixtureJob.class.getName()})).isInstanceOf(InvalidRequestException.class).hasMessageContaining("--run-dir");
        assertThatThrownBy(() -> DataParallelLauncher.parse(new String[] {"--workers", "2", "--job", "no.such.Job",
                "--run-dir", "r"})).isInstanceOf(InvalidRequestException.class).hasMessageContaining("no.such.Job");
        assertThatThrownBy(() -> DataParallelLauncher.parse(new String[] {"--workers", "2", "--job",
                String.class.getName(), "--run-dir", "r"})).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("DataParallelJob");
        assertThatThrownBy(() -> DataParallelLauncher.parse(new String[] {"--workers", "0", "--job",
                MixtureJob.class.getName(), "--run-dir", "r"})).isInstanceOf(InvalidRequestException.class)
                .hasMessageContaining("workers");
        assertThatThrownBy(() -> DataParallelLauncher.parse(new String[] {"--workers", "2", "--job",
                MixtureJob.class.getName(), "--run-dir", "r", "--cluster", "a:1"}))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("--cluster");
        assertThat(DataParallelLauncher.parse(new String[] {"--workers", "3", "--job", MixtureJob.class.getName(),
                "--run-dir", "r", "--max-restarts", "1", "--", "batch=6"})).isNotNull();
        assertThatThrownBy(() -> DataParallelLauncher.builder().workers(2).build())
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("job");
    }
}
