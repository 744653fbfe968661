package io.senseflow.tf.distributed;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Runs {@link AllReduceBenchmark} from the test class path (a measurement, excluded from the default suite): 2
 * worker JVMs, the gradient sizes of the Shapes model (2.29 M parameters) and the large config (41.9 M). The report
 * goes to {@code target/allreduce-benchmark.txt} (or {@code -Dsenseflow.bench.out}).
 */
@Tag("experiment")
class AllReduceBenchmarkTest {

    @Test
    void measureAllReduceOfShapesAndLargeGradients() throws Exception {
        Path out = Path.of(System.getProperty("senseflow.bench.out", "target/allreduce-benchmark.txt"));
        AllReduceBenchmark.main(new String[] {"2", System.getProperty("senseflow.bench.sizes", "2290000,41900000"),
                System.getProperty("senseflow.bench.reps", "5"), out.toString()});
        assertThat(Files.readAllLines(out)).filteredOn(l -> l.startsWith("allreduce task")).hasSize(
                2 * System.getProperty("senseflow.bench.sizes", "2290000,41900000").split(",").length);
    }
}
