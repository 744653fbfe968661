package io.senseflow.onnx.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.senseflow.SenseFlowException;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.Init;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.onnx.safetensors.SafetensorsFile;
import io.senseflow.onnx.safetensors.SafetensorsWriter;
import io.senseflow.onnx.testing.TinyModelFolders;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bounded random-mutation fuzzing of the two pure-Java readers, with fixed seeds (a failure names its seed and
 * iteration, so it can be replayed): the safetensors reader (byte-level damage anywhere, and JSON-aware damage of the
 * header's numbers: offsets, shapes, the header length) and the ONNX reader (byte-level damage of a real in-house
 * transformer graph). Each damaged input must either read completely (every tensor's payload too) or fail with a
 * {@link SenseFlowException} naming the file; anything else (another exception, an {@link OutOfMemoryError}, a hang
 * past the timeout) fails the test.
 */
class ReaderFuzzTest {
    static final int CI_ITERATIONS = 1500;

    @TempDir
    Path dir;

    static byte[] goodSafetensors() {
        return new SafetensorsWriter()
                .addFloats("a.weight", new float[] {1, 2, 3, 4, 5, 6}, 2, 3)
                .addFloat16("b", new float[] {0.5f, -1f}, 2)
                .addBfloat16("c", new float[] {3f}, 1)
                .addDoubles("d", new double[] {1, 2, 3}, 3, 1)
                .addLongs("e", new long[] {7, -8}, 2)
                .addInts("f", new int[] {9}, 1, 1, 1)
                .metadata("format", "pt").metadata("made_by", "ReaderFuzzTest")
                .toByteArray();
    }

    /** Opens and reads everything; returns whether it read. */
    static boolean readsOrFailsCleanly(Path file, String what) {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            for (String n : f.names()) {
                f.bytes(n);
                if (f.dtype(n).isFloatingPoint()) {
                    f.floats(n);
                    f.tensor(n);
                }
                f.tensorValue(n);
            }
            f.metadata();
            return true;
        } catch (SenseFlowException e) {
            assertThat(e.getMessage()).as(what).contains(file.getFileName().toString());
            return false;
        } catch (Throwable t) {
            return fail(what + ": " + t, t);
        }
    }

    private int[] fuzzSafetensors(int iterations, long seed) throws Exception {
        byte[] good = goodSafetensors();
        int headerEnd = 8 + (int) java.nio.ByteBuffer.wrap(good).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        Random r = new Random(seed);
        Path file = dir.resolve("fuzz.safetensors");
        int failed = 0;
        for (int i = 0; i < iterations; i++) {
            byte[] damaged;
            switch (i % 3) {
                case 0 -> damaged = Mutations.bytes(good, r);
                case 1 -> { // JSON-aware: numbers of the header, then fix up the header length (or not)
                    byte[] header = Arrays.copyOfRange(good, 8, headerEnd);
                    byte[] h = Mutations.text(header, r);
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + h.length + good.length - headerEnd)
                            .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    b.putLong(r.nextInt(4) == 0 ? r.nextLong() : h.length).put(h).put(good, headerEnd, good.length - headerEnd);
                    damaged = b.array();
                }
                default -> { // damage confined to the header
                    byte[] header = Mutations.bytes(Arrays.copyOfRange(good, 0, headerEnd), r);
                    damaged = new byte[header.length + good.length - headerEnd];
                    System.arraycopy(header, 0, damaged, 0, header.length);
                    System.arraycopy(good, headerEnd, damaged, header.length, good.length - headerEnd);
                }
            }
            Files.write(file, damaged);
            if (!readsOrFailsCleanly(file, "seed " + seed + " iteration " + i)) {
                failed++;
            }
        }
        return new int[] {iterations, failed};
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void damagedSafetensorsFilesReadOrFailCleanly() throws Exception {
        int[] r = fuzzSafetensors(CI_ITERATIONS, 11);
        System.out.println("ReaderFuzzTest safetensors: " + r[0] + " damaged files, " + r[1] + " refused, the rest read");
        assertThat(r[1]).isGreaterThan(r[0] / 2);
    }

    static boolean parsesOrFailsCleanly(byte[] bytes, String what) {
        try {
            OnnxModel m = OnnxModel.parse(bytes, "fuzz/model.onnx");
            for (TensorValue t : m.graph().initializers()) {
                if (t.dataType() != DataType.STRING && !t.isExternal()) {
                    t.bytes();
                    if (t.dataType().isFloatingPoint()) {
                        t.toFloats();
                    }
                }
            }
            m.graph().opTypeCounts();
            OnnxModel.parse(m.toByteArray(), "fuzz/again.onnx");
            return true;
        } catch (SenseFlowException e) {
            assertThat(e.getMessage()).as(what).contains("fuzz/model.onnx");
            return false;
        } catch (Throwable t) {
            return fail(what + ": " + t, t);
        }
    }

    private int[] fuzzOnnx(int iterations, long seed) {
        byte[] good = FlowTransformer.build(TinyModelFolders.inHouseTransformer(), 3, Init.RANDOM_ALL).toByteArray();
        assertThat(parsesOrFailsCleanly(good, "the undamaged model")).isTrue();
        Random r = new Random(seed);
        int failed = 0;
        for (int i = 0; i < iterations; i++) {
            // damage concentrated in the graph structure (the first 8 kB: nodes, names, attributes) half the time
            byte[] damaged;
            if (i % 2 == 0) {
                int cut = Math.min(good.length, 8192);
                byte[] head = Mutations.bytes(Arrays.copyOf(good, cut), r);
                damaged = Arrays.copyOf(head, head.length + good.length - cut);
                System.arraycopy(good, cut, damaged, head.length, good.length - cut);
            } else {
                damaged = Mutations.bytes(good, r);
            }
            if (!parsesOrFailsCleanly(damaged, "seed " + seed + " iteration " + i)) {
                failed++;
            }
        }
        return new int[] {iterations, failed};
    }

    @Test
    @Timeout(value = 3, unit = TimeUnit.MINUTES)
    void damagedOnnxModelsParseOrFailCleanly() {
        int[] r = fuzzOnnx(CI_ITERATIONS, 12);
        System.out.println("ReaderFuzzTest onnx: " + r[0] + " damaged models, " + r[1] + " refused, the rest parsed");
        assertThat(r[1]).isGreaterThan(r[0] / 4);
    }

    @Test
    @Tag("experiment")
    @Timeout(value = 60, unit = TimeUnit.MINUTES)
    void longFuzz() throws Exception {
        int[] s = fuzzSafetensors(100_000, 1011);
        int[] o = fuzzOnnx(50_000, 1012);
        String line = "ReaderFuzzTest experiment: safetensors " + s[0] + " damaged (" + s[1] + " refused), onnx " + o[0]
                + " damaged (" + o[1] + " refused)";
        System.out.println(line);
        Files.writeString(Files.createDirectories(Path.of("target", "reliability")).resolve("reader-fuzz.txt"), line + "\n",
                StandardCharsets.UTF_8);
    }
}
