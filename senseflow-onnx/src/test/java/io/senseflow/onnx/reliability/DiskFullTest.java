package io.senseflow.onnx.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.senseflow.CheckpointException;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.TrainingSnapshot;
import io.senseflow.io.AtomicFiles;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.Dim;
import io.senseflow.onnx.ir.GraphBuilder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.WriteOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.OrtInputs;
import io.senseflow.onnx.runtime.OrtModel;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.onnx.testing.TinyModelFolders;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Checkpoints and exports written into a file system that is really full (a 4 MiB tmpfs filled up) or really read-only
 * (the tmpfs remounted {@code ro}): each write fails with a {@link CheckpointException} naming the file or iteration and
 * the cause, the previous files stay exactly as they were (loaded and compared), and no temporary file is left behind.
 * Where no tmpfs can be mounted (not Linux, not root) those tests are skipped; the writers-that-fail tests run anywhere.
 */
class DiskFullTest {
    static Tmpfs fs;

    @TempDir
    Path tmp;

    @BeforeAll
    static void mount() {
        fs = Tmpfs.mount(Path.of("target", "tmpfs-" + ProcessHandle.current().pid()).toAbsolutePath(), 4L << 20);
    }

    @AfterAll
    static void unmount() throws Exception {
        if (fs != null) {
            fs.close();
        }
    }

    @BeforeEach
    void empty() throws Exception {
        if (fs != null) {
            fs.readOnly(false);
            deleteContents(fs.dir());
        }
    }

    private static Path disk() {
        assumeThat(fs).as("a tmpfs can be mounted here (Linux, root)").isNotNull();
        return fs.dir();
    }

    private static TrainingSnapshot snapshotAt(long iteration) {
        Distiller d = CrashRun.distiller(CrashRun.config(100));
        d.runUntil(iteration, CancellationToken.none());
        return d.snapshot();
    }

    private static long size(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            long total = 0;
            for (Path f : s.filter(Files::isRegularFile).toList()) {
                total += Files.size(f);
            }
            return total;
        }
    }

    /** @return the names in a folder, hidden ones included */
    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aCheckpointSaveOnAFullDiskFailsAndTheEarlierCheckpointStaysLoadable() throws Exception {
        Path runs = disk().resolve("runs");
        CheckpointStore store = CheckpointStore.builder(runs).keepLast(1).build();
        TrainingSnapshot three = snapshotAt(3);
        store.save(three);
        TrainingSnapshot six = snapshotAt(6);
        // what the save of iteration 6 needs, measured by saving it where there is room
        long needed = size(CheckpointStore.at(tmp.resolve("roomy")).save(six));
        Path filler = fs.fillLeaving(2 * Tmpfs.PAGE);
        assertThat(fs.free()).as("free bytes on the full disk, against the %d the checkpoint needs", needed)
                .isLessThan(needed);
        assertThatThrownBy(() -> store.save(six)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("iteration 6").hasMessageContaining("No space left on device")
                .hasMessageContaining("earlier checkpoints are untouched");
        assertThat(names(runs)).containsExactly("checkpoint-000000003");
        assertThat(CrashRun.same(store.loadLatest().orElseThrow().snapshot(), three)).isTrue();
        // once there is room again, saving works and prunes as configured
        Files.delete(filler);
        store.save(six);
        assertThat(names(runs)).containsExactly("checkpoint-000000006");
        assertThat(CrashRun.same(store.loadLatest().orElseThrow().snapshot(), six)).isTrue();
    }

    /** A model whose file (400 small initializers inline, concatenated) is larger than its external data file (one 64 KiB tensor). */
    static OnnxModel modelWithExternalData(float value) {
        GraphBuilder g = GraphBuilder.create("export");
        String x = g.input("x", DataType.FLOAT, Dim.of(16384));
        float[] big = new float[16384];
        java.util.Arrays.fill(big, value);
        String y = g.add(x, g.initializer("big", big, 16384));
        String[] small = new String[400];
        for (int i = 0; i < small.length; i++) {
            float[] v = new float[250];
            java.util.Arrays.fill(v, value + i);
            small[i] = g.initializer("small_" + i, v, 250);
        }
        g.output(y, "y", DataType.FLOAT, Dim.of(16384));
        g.output(g.concat(0, small), "small", DataType.FLOAT, Dim.of(100_000));
        return g.build();
    }

    private static void assertServes(Path model, float value) {
        try (OrtRuntime ort = OrtRuntime.create(); OrtModel m = ort.load(model)) {
            Map<String, Tensor> out = m.run(OrtInputs.create().put("x", Tensor.zeros(16384)));
            assertThat(out.get("y").get(123)).isEqualTo(value);
            assertThat(out.get("small").get(250 * 399 + 7)).isEqualTo(value + 399);
        }
    }

    @Test
    void aModelExportOnAFullDiskFailsAndThePreviousModelAndDataStayTogether() throws Exception {
        Path dir = Files.createDirectories(disk().resolve("student"));
        Path file = dir.resolve("model.onnx");
        modelWithExternalData(1f).write(file, WriteOptions.externalData(1024));
        long data = Files.size(dir.resolve("model.onnx_data"));
        long model = Files.size(file);
        assertThat(model).isGreaterThan(4 * data / 3);
        // room for the new data file, not for the new model file: the old data file must not be replaced either
        fs.fillLeaving(data + model / 2);
        assertThat(fs.free()).isGreaterThanOrEqualTo(data).isLessThan(data + model);
        assertThatThrownBy(() -> modelWithExternalData(2f).write(file, WriteOptions.externalData(1024)))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("model.onnx")
                .hasMessageContaining("No space left on device");
        assertThat(names(dir)).containsExactly("model.onnx", "model.onnx_data");
        assertServes(file, 1f);
    }

    @Test
    void aSafetensorsWriteOnAFullDiskFailsAndThePreviousFileStays() throws Exception {
        Path file = disk().resolve("student.safetensors");
        float[] ones = new float[100_000];
        java.util.Arrays.fill(ones, 1f);
        new SafetensorsWriter().addFloats("w", ones, ones.length).write(file);
        fs.fillLeaving(2 * Tmpfs.PAGE);
        assertThat(fs.free()).isLessThan(Files.size(file));
        float[] twos = new float[100_000];
        java.util.Arrays.fill(twos, 2f);
        assertThatThrownBy(() -> new SafetensorsWriter().addFloats("w", twos, twos.length).write(file))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("student.safetensors")
                .hasMessageContaining("No space left on device");
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.floats("w")).isEqualTo(ones);
        }
        assertThat(names(fs.dir())).containsExactly("filler", "student.safetensors");
    }

    @Test
    void replacingAModelFolderOnAFullDiskFailsAndTheOldFolderStillGenerates() throws Exception {
        Path folder = disk().resolve("tiny");
        TinyModelFolders.senseflow(folder, 42);
        GenerationRequest r = GenerationRequest.builder().prompt("a red cat").seed(3).build();
        Tensor before;
        try (LoadedModel m = Models.load(folder)) {
            before = m.pipeline().generate(r).latents();
        }
        fs.fillLeaving(2 * Tmpfs.PAGE);
        assertThat(fs.free()).isLessThan(size(folder));
        assertThatThrownBy(() -> TinyModelFolders.senseflow(folder, 43)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("could not write the SenseFlow model folder " + folder)
                .hasMessageContaining("No space left on device");
        assertThat(names(fs.dir())).containsExactly("filler", "tiny");
        try (LoadedModel m = Models.load(folder)) {
            assertThat(m.pipeline().generate(r).latents()).isEqualTo(before);
        }
    }

    @Test
    void aReadOnlyFileSystemRefusesEveryWriteWithATypedErrorAndKeepsWhatIsThere() throws Exception {
        Path runs = disk().resolve("runs");
        CheckpointStore store = CheckpointStore.at(runs);
        TrainingSnapshot three = snapshotAt(3);
        store.save(three);
        Path model = disk().resolve("model.onnx");
        modelWithExternalData(1f).write(model, WriteOptions.externalData(1024));
        fs.readOnly(true);
        assertThatThrownBy(() -> store.save(snapshotAt(4))).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("iteration 4").hasMessageContaining("Read-only file system");
        assertThatThrownBy(() -> modelWithExternalData(2f).write(model, WriteOptions.externalData(1024)))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("Read-only file system");
        assertThatThrownBy(() -> new SafetensorsWriter().addFloats("w", new float[] {1}, 1).write(disk().resolve("w.safetensors")))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("w.safetensors");
        assertThatThrownBy(() -> TinyModelFolders.senseflow(disk().resolve("tiny"), 1)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("Read-only file system");
        assertThat(CrashRun.same(store.loadLatest().orElseThrow().snapshot(), three)).isTrue();
        assertServes(model, 1f);
    }

    @Test
    void filesThatBelongTogetherAreReplacedTogetherOrNotAtAll() throws Exception {
        Path a = Files.writeString(tmp.resolve("model.onnx_data"), "old data");
        Path b = Files.writeString(tmp.resolve("model.onnx"), "old model");
        Map<Path, AtomicFiles.Writer> files = new LinkedHashMap<>();
        files.put(a, ch -> ch.write(ByteBuffer.wrap("new data".getBytes())));
        files.put(b, ch -> {
            ch.write(ByteBuffer.wrap("new mo".getBytes()));
            throw new IOException("disk full (simulated)");
        });
        assertThatThrownBy(() -> AtomicFiles.writeAll(files)).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(b.toString()).hasMessageContaining("disk full (simulated)");
        assertThat(Files.readString(a)).isEqualTo("old data");
        assertThat(Files.readString(b)).isEqualTo("old model");
        assertThat(names(tmp)).containsExactly("model.onnx", "model.onnx_data");
        files.put(b, ch -> ch.write(ByteBuffer.wrap("new model".getBytes())));
        AtomicFiles.writeAll(files);
        assertThat(Files.readString(a)).isEqualTo("new data");
        assertThat(Files.readString(b)).isEqualTo("new model");
    }

    @Test
    void anOutputPathThatCannotBeAFolderIsATypedErrorEvenForRoot() throws Exception {
        // permission bits do not stop root: a regular file where a parent folder should be stops everyone
        Path blocker = Files.writeString(tmp.resolve("blocker"), "a file");
        assertThatThrownBy(() -> modelWithExternalData(1f).write(blocker.resolve("student/model.onnx"),
                WriteOptions.externalData(1024))).isInstanceOf(CheckpointException.class)
                .hasMessageContaining(blocker.resolve("student").toString());
        assertThatThrownBy(() -> new SafetensorsWriter().addFloats("w", new float[] {1}, 1)
                .write(blocker.resolve("w.safetensors"))).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("w.safetensors");
        assertThatThrownBy(() -> CheckpointStore.at(blocker.resolve("runs")).save(snapshotAt(1)))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("iteration 1");
        assertThat(Files.readString(blocker)).isEqualTo("a file");
    }

    private static void deleteContents(Path dir) throws IOException {
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException exc) throws IOException {
                if (!d.equals(dir)) {
                    Files.delete(d);
                }
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
