package io.senseflow.tf.run;

import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.Recipe;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.noise.GaussianNoise;
import io.senseflow.tf.train.MemoryEstimate;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.FlowMatchingConfig;
import io.senseflow.train.FlowMatchingTrainer;
import io.senseflow.pipeline.CancellationToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 13's per-family table (docs/distillation.md): for each shared Optimum folder (sd3, flux_dev, sdxl) a
 * {@link DistillationRun} (SenseFlow recipe, 64 x 64, batch 1, T5 length 24, 2 intra-op threads) in a fresh JVM; its
 * iterations alternate with plain flow-matching training steps of the teacher's graph wired as the generator
 * ({@link DistillationRun#generatorModule()}, same batch, shapes and AdamW), so the ratio of the medians comes from one
 * process under one load; then the process's peak resident memory ({@code VmHWM}) minus its resident memory at start
 * (the heap pre-touched: what the run added, libraries included) against {@link DistillationRun#memoryEstimate()}.
 * A measurement, not a test: tagged {@code experiment}. Run with
 *
 * <pre>
 * nice -n 15 mvn -pl senseflow-tf -am test -Dtest='FamilyDistillationBenchmark' -Dexcluded.groups= -Dgroups=experiment \
 *     -Dsurefire.failIfNoSpecifiedTests=false [-Dfamilybench.families=sd3,flux_dev] [-Dfamilybench.iterations=5]
 * </pre>
 */
@Tag("experiment")
class FamilyDistillationBenchmark {
    @TempDir
    Path dir;

    @Test
    void perFamilyIterationTimeRatioAndPeakMemory() throws Exception {
        String families = System.getProperty("familybench.families", "sd3,flux_dev,sdxl");
        String n = System.getProperty("familybench.iterations", "5");
        List<String> rows = new ArrayList<>();
        for (String f : families.split(",")) {
            String java = ProcessHandle.current().info().command().orElse("java");
            Path work = Files.createDirectories(dir.resolve(f));
            ProcessBuilder pb = new ProcessBuilder(java, "-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC",
                    "-cp", System.getProperty("java.class.path"), FamilyDistillationBenchmark.class.getName(), f, n,
                    work.toString()).redirectErrorStream(true);
            pb.environment().put("TF_ENABLE_ONEDNN_OPTS", "0");
            pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
            pb.environment().putAll(io.senseflow.tf.train.PeakMemoryProbe.ALLOCATOR_ENV); // repeatable peaks
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int rc = p.waitFor();
            String row = out.lines().filter(l -> l.startsWith("ROW ")).findFirst().orElse(null);
            if (rc != 0 || row == null) {
                throw new IOException(f + ": exited with " + rc + "\n" + out);
            }
            out.lines().filter(l -> l.startsWith("  ")).forEach(System.out::println);
            rows.add(row.substring(4));
        }
        System.out.println("| family (fixture) | time per iteration | one flow-matching step of the teacher | ratio |"
                + " peak RSS of the process | added by the run | estimate (device) | estimate / added |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        rows.forEach(System.out::println);
        System.out.println("load average: " + Files.readString(Path.of("/proc/loadavg")).trim());
    }

    /**
     * One family in this process; prints {@code ROW} with the table's cells.
     *
     * @param args fixture name, measured iterations, work folder
     * @throws IOException if the prompt file cannot be written
     */
    public static void main(String[] args) throws IOException {
        String family = args[0];
        int n = Integer.parseInt(args[1]);
        Path work = Path.of(args[2]);
        long base = status("VmRSS:");
        Path prompts = work.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle on a blue square\nthree small yellow triangles\nune étoile verte\n");
        Path teacher = Fixtures.path("optimum-exports/" + family + "/onnx");
        long[] iter = new long[n];
        long[] fm = new long[n];
        MemoryEstimate estimate;
        try (DistillationRun run = DistillationRun.builder(teacher).prompts(prompts).folder(work.resolve("run"))
                .recipe(Recipe.SENSEFLOW).iterations(n + 1).batchSize(1).seed(5).checkpointEvery(1000)
                .imageSize(64, 64).loadOptions(DistillationRunTest.OPTIONS).threads(2).build()) {
            estimate = run.memoryEstimate();
            DistillationDataset data = run.dataset();
            DistillationDataset withSamples = new DistillationDataset() {
                @Override
                public DistillationBatch batch(long iteration, int size) {
                    DistillationBatch b = data.batch(iteration, size);
                    int[] shape = new int[data.sampleShape().length + 1];
                    shape[0] = size;
                    System.arraycopy(data.sampleShape(), 0, shape, 1, shape.length - 1);
                    return new DistillationBatch(b.prompts(), b.conditioning(), b.unconditional(),
                            GaussianNoise.sample(9, iteration * size, 70, shape).scale(0.5f));
                }

                @Override
                public int[] sampleShape() {
                    return data.sampleShape();
                }
            };
            AdamWConfig adam = run.config().generatorOptimizer();
            FlowMatchingTrainer trainer = FlowMatchingTrainer.builder()
                    .config(FlowMatchingConfig.of(5, 1, Long.MAX_VALUE / 2, adam)).model(run.generatorModule())
                    .dataset(withSamples).build();
            run.runUntil(1, CancellationToken.none()); // warm-up: first graph runs
            trainer.trainStep();
            for (int i = 0; i < n; i++) {
                long t0 = System.nanoTime();
                run.runUntil(i + 2, CancellationToken.none());
                long t1 = System.nanoTime();
                trainer.trainStep();
                long t2 = System.nanoTime();
                iter[i] = t1 - t0;
                fm[i] = t2 - t1;
            }
        }
        long peak = status("VmHWM:");
        double mi = median(iter) / 1e6;
        double mf = median(fm) / 1e6;
        long added = peak - base;
        System.out.print(indent(estimate.table()));
        System.out.printf(Locale.ROOT, "ROW | %s (`%s`) | %.0f ms | %.0f ms | %.1f | %,d MiB | %,d MiB | %,d MiB | %.2f |%n",
                label(family), family, mi, mf, mi / mf, peak >> 20, added >> 20, estimate.deviceBytes() >> 20,
                estimate.deviceBytes() / (double) added);
    }

    static String label(String family) {
        return switch (family) {
            case "sd3" -> "SD3";
            case "flux_dev" -> "FLUX.1-dev";
            case "sdxl" -> "SDXL";
            default -> family;
        };
    }

    static String indent(String s) {
        StringBuilder sb = new StringBuilder();
        s.lines().forEach(l -> sb.append("  ").append(l.strip()).append('\n'));
        return sb.toString();
    }

    static double median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2.0;
    }

    static long status(String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"), StandardCharsets.US_ASCII)) {
                if (l.startsWith(field)) {
                    return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
