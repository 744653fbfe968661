package io.senseflow.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.onnx.runtime.ExecutionProvider;
import java.nio.file.Path;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs every suite of the harness once on tiny models, so the harness does not rot between benchmark runs. Checks the
 * report's structure and that every measured quantity is there; never a time (benchmarks are not tests).
 */
class HarnessSmokeTest {
    @TempDir
    Path work;

    @Test
    void everySuiteProducesItsTables() {
        BenchSettings settings = new BenchSettings(1, ExecutionProvider.CPU, 1, 0, work, null);
        BenchHarness harness = new BenchHarness(settings);
        Report report = new Report(null);
        harness.run(harness.smokePlan(EnumSet.allOf(BenchHarness.Suite.class)), report);
        String md = report.markdown();
        assertThat(md).contains("Machine: ", "## Sampling", "## SDK overhead", "## Distillation", "## Scaling",
                "## Intra-op threads", "Load average at the end");
        assertThat(md).contains("| teacher 50 (CFG) | 1 | 100 | 50 |", "| student 4 | 2 | 4 | 4 |",
                "| student 1 (off anchors) |");
        // per-step transformer time and the CPU-time overhead are part of every sampling report
        assertThat(md).contains("| step 1: sigma, ms |", "| student 4 | 2 | 2 | 1.000, ", "SDK overhead, CPU time",
                "idle ONNX Runtime workers spinning: within-runs");
        assertThat(md).contains("senseflow (TTUR 5", "dmd+ida+isg (TTUR 5", "IDA (F <- lambda F + (1 - lambda) G)");
        assertThat(md).doesNotContain("NaN");
        report.write(work.resolve("report.md"));
        assertThat(work.resolve("report.md")).isRegularFile();
    }

    @Test
    void samplesQuoteTheMedianAndNearestRankQuantiles() {
        Samples s = Samples.of(5_000_000, 1_000_000, 3_000_000, 2_000_000);
        assertThat(s.median()).isEqualTo(2_500_000);
        assertThat(s.quantile(0)).isEqualTo(1_000_000);
        assertThat(s.quantile(1)).isEqualTo(5_000_000);
        assertThat(s.describeMs()).isEqualTo("2.50 ms (1.00–5.00, n 4)");
    }

    @Test
    void cpuinfoGivesModelFamilyAndVectorFlags() {
        Machine.Cpu cpu = Machine.parseCpuinfo(java.util.List.of("processor\t: 0", "vendor_id\t: AuthenticAMD",
                "cpu family\t: 25", "model\t\t: 17", "model name\t: AMD EPYC", "stepping\t: 1", "cpu MHz\t\t: 2596.134",
                "cache size\t: 1024 KB", "flags\t\t: fpu sse4_2 avx fma avx2 hypervisor avx512f avx512_vnni avx512_bf16", "",
                "processor\t: 1", "model name\t: something else"));
        assertThat(cpu.model()).isEqualTo("AMD EPYC");
        assertThat(cpu.family()).isEqualTo(25);
        assertThat(cpu.modelNumber()).isEqualTo(17);
        assertThat(cpu.cacheKiB()).isEqualTo(1024);
        assertThat(cpu.virtual()).isTrue();
        assertThat(cpu.simdFlags()).containsExactly("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16");
        assertThat(cpu.describe()).isEqualTo("AMD EPYC (AuthenticAMD family 25 model 17 stepping 1, 2596 MHz, AVX-512: "
                + "sse4_2 avx avx2 fma avx512f avx512_vnni avx512_bf16, virtual machine)");
        assertThat(Machine.parseCpuinfo(java.util.List.of("Processor\t: ARMv7"))).isEqualTo(Machine.Cpu.UNKNOWN);
    }

    @Test
    void tablesEscapePipes() {
        assertThat(Table.of("a", "b").row("x|y", 1).markdown()).isEqualTo("| a | b |\n| --- | --- |\n| x\\|y | 1 |\n");
    }
}
