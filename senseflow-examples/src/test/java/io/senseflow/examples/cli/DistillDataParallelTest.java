package io.senseflow.examples.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.fixtures.Fixtures;
import io.senseflow.json.Json;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.ModelFamily;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.distributed.DataParallelWorker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The front door's data-parallel form through the CLI, on the shared Optimum SD3 folder: {@code senseflow distill
 * --teacher DIR --prompts FILE --batch 2 --workers 2 --out RUN} (the default recipe senseflow: DMD, IDA, ISG and the
 * GAN term with its MLP head; two worker JVMs on loopback, batch 1 each) ends with the parameters of the one-process run at the same global batch 2 within 1e-6 (every module:
 * generator, fake score, EMA), with the same losses (averaged over the workers) within 1e-5 relative; the run folder is
 * written once (one {@code run.json} recording 2 workers, the checkpoints of iterations 3 and 6, one row per iteration
 * and term, the GAN term's among them), both workers reported success, and the exported student loads as a SenseFlow
 * checkpoint. A VFM {@code --backbone} with {@code --workers 2} is refused naming the flag, before any process starts
 * or the folder is made. The launcher ends the worker processes by their handles.
 */
class DistillDataParallelTest {
    static final int ITERATIONS = 6;

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void twoWorkerJvmsMatchOneProcessAtTheSameGlobalBatch() throws IOException {
        Path teacher = Fixtures.copy("optimum-exports/sd3/onnx", dir.resolve("teacher"));
        Path prompts = dir.resolve("prompts.txt");
        Files.writeString(prompts, "a red circle on a blue square\nthree small yellow triangles\nune étoile verte\n");
        List<String> common = List.of("distill", "--teacher", teacher.toString(), "--prompts", prompts.toString(),
                "--iterations", Integer.toString(ITERATIONS), "--batch", "2",
                "--checkpoint-every", "3", "--size", "64x64", "--t5-length", "24", "--threads", "1", "--quiet");

        Path refused = dir.resolve("run-vfm");
        Path backbone = teacher.resolve("text_encoder/model.onnx");
        DistillCommandTest.Run vfm = DistillCommandTest.run(with(common, "--workers", "2", "--backbone",
                backbone.toString(), "--out", refused.toString()));
        assertThat(vfm.code()).isNotZero();
        assertThat(vfm.err()).contains("--backbone " + backbone).contains("--workers");
        assertThat(refused).doesNotExist();

        long t0 = System.nanoTime();
        Path one = dir.resolve("run-1");
        DistillCommandTest.Run a = DistillCommandTest.run(with(common, "--out", one.toString()));
        assertThat(a.code()).as(a.err()).isZero();
        long t1 = System.nanoTime();
        Path two = dir.resolve("run-2");
        DistillCommandTest.Run b = DistillCommandTest.run(with(common, "--workers", "2", "--out", two.toString()));
        assertThat(b.code()).as(b.err() + workerLogs(two)).isZero();
        long t2 = System.nanoTime();
        assertThat(b.out()).contains("student:").contains("2 workers");

        // the parameters of every module, after the same 6 global batches
        TrainingSnapshot ref = latest(one);
        TrainingSnapshot dp = latest(two);
        assertThat(dp.iteration()).isEqualTo(ITERATIONS);
        assertThat(dp.parameters().keySet()).isEqualTo(ref.parameters().keySet()).contains("generator", "fake_score");
        double worst = 0;
        int values = 0;
        boolean moved = false;
        for (String module : ref.parameters().keySet()) {
            Map<String, Tensor> r = ref.parameters().get(module);
            Map<String, Tensor> d = dp.parameters().get(module);
            assertThat(d.keySet()).as(module).isEqualTo(r.keySet());
            for (String name : r.keySet()) {
                float[] x = r.get(name).toArray();
                float[] y = d.get(name).toArray();
                assertThat(y).as(module + "/" + name).hasSameSizeAs(x);
                for (int i = 0; i < x.length; i++) {
                    worst = Math.max(worst, Math.abs((double) x[i] - y[i]));
                }
                values += x.length;
            }
        }
        // the runs did train: the fake score (updated every iteration) moved between the two checkpoints
        TrainingSnapshot first = CheckpointStore.load(CheckpointStore.at(two.resolve("checkpoints"))
                .folderFor(3)).snapshot();
        for (String name : dp.parameters().get("fake_score").keySet()) {
            float[] x = first.parameters().get("fake_score").get(name).toArray();
            float[] y = dp.parameters().get("fake_score").get(name).toArray();
            for (int i = 0; i < x.length && !moved; i++) {
                moved = x[i] != y[i];
            }
        }
        System.out.printf("data-parallel front door: %d values, max |2 workers - 1 process| = %.3g; 1 process %.1f s,"
                + " 2 workers %.1f s%n", values, worst, (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        assertThat(moved).as("the fake score changed between iterations 3 and 6").isTrue();
        assertThat(worst).as("max difference of any parameter").isLessThanOrEqualTo(1e-6);

        // written once: one run.json (2 workers), checkpoints 3 and 6, one losses row per iteration and term
        Map<String, Object> runJson = Json.parseObject(Files.readString(two.resolve("run.json"))).asMap();
        assertThat(((Number) runJson.get("workers")).longValue()).isEqualTo(2L);
        assertThat(((Number) Json.parseObject(Files.readString(one.resolve("run.json"))).asMap().get("workers"))
                .longValue()).isEqualTo(1L);
        try (Stream<Path> s = Files.list(two.resolve("checkpoints"))) {
            assertThat(s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList())
                    .containsExactlyElementsOf(checkpointNames(one));
        }
        List<String> lossesRef = Files.readAllLines(one.resolve("losses.csv"));
        List<String> lossesDp = Files.readAllLines(two.resolve("losses.csv"));
        assertThat(lossesDp).hasSameSizeAs(lossesRef);
        assertThat(lossesDp).doesNotHaveDuplicates();
        assertThat(lossesDp.stream().filter(l -> l.split(",")[1].equals("gan")).count()).as("GAN rows").isPositive();
        for (int i = 1; i < lossesRef.size(); i++) {
            String[] r = lossesRef.get(i).split(",");
            String[] d = lossesDp.get(i).split(",");
            assertThat(d[0] + "," + d[1]).isEqualTo(r[0] + "," + r[1]);
            double rv = Double.parseDouble(r[2]);
            double dv = Double.parseDouble(d[2]);
            assertThat(Math.abs(dv - rv)).as(lossesDp.get(i) + " vs " + lossesRef.get(i))
                    .isLessThanOrEqualTo(1e-5 * Math.max(1, Math.abs(rv)));
        }
        for (int k = 0; k < 2; k++) {
            assertThat(DataParallelWorker.readStatus(DataParallelWorker.statusFile(two, k))).as("worker " + k)
                    .containsEntry("status", "ok");
        }

        assertThat(Files.readAllBytes(two.resolve("student/transformer/model.onnx"))).as("the student is not the"
                + " teacher").isNotEqualTo(Files.readAllBytes(teacher.resolve("transformer/model.onnx")));
        LoadOptions options = LoadOptions.builder().sessionConfig(SessionConfig.builder().intraOpThreads(1)
                .interOpThreads(1).build()).t5SequenceLength(24).build();
        try (LoadedModel m = Models.load(two.resolve("student"), options)) {
            assertThat(m.family()).isEqualTo(ModelFamily.SD3);
            assertThat(m.senseflowCheckpoint()).isTrue();
        }
    }

    private static String[] with(List<String> common, String... more) {
        List<String> a = new ArrayList<>(common);
        a.addAll(List.of(more));
        return a.toArray(String[]::new);
    }

    /** @return the run's latest checkpoint */
    static TrainingSnapshot latest(Path run) {
        return CheckpointStore.at(run.resolve("checkpoints")).latest().map(CheckpointStore::load).orElseThrow()
                .snapshot();
    }

    /** @return the largest absolute difference between the two snapshots' parameters (every module of {@code ref}) */
    static double maxDifference(TrainingSnapshot ref, TrainingSnapshot got) {
        double worst = 0;
        for (String module : ref.parameters().keySet()) {
            for (Map.Entry<String, Tensor> e : ref.parameters().get(module).entrySet()) {
                float[] x = e.getValue().toArray();
                float[] y = got.parameters().get(module).get(e.getKey()).toArray();
                for (int i = 0; i < x.length; i++) {
                    worst = Math.max(worst, Math.abs((double) x[i] - y[i]));
                }
            }
        }
        return worst;
    }

    private static List<String> checkpointNames(Path run) throws IOException {
        try (Stream<Path> s = Files.list(run.resolve("checkpoints"))) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static String workerLogs(Path run) throws IOException {
        Path logs = run.resolve("workers");
        if (!Files.isDirectory(logs)) {
            return "";
        }
        Map<String, String> out = new HashMap<>();
        try (Stream<Path> s = Files.list(logs)) {
            for (Path p : s.toList()) {
                String text = Files.readString(p);
                out.put(p.getFileName().toString(), text.length() > 3000 ? text.substring(text.length() - 3000) : text);
            }
        }
        return "\n" + out;
    }
}
