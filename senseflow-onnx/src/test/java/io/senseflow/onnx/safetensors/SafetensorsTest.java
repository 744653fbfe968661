package io.senseflow.onnx.safetensors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.senseflow.InvalidRequestException;
import io.senseflow.onnx.ir.DataType;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tensor.HalfPrecision;
import io.senseflow.tensor.Tensor;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {

    static Path fixture(String name) {
        try {
            return Path.of(SafetensorsTest.class.getResource("/fixtures/torch-exports/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void readsFilesWrittenByTheReferenceImplementation() {
        try (SafetensorsFile f = SafetensorsFile.open(fixture("bert_tiny.reference.safetensors"))) {
            assertThat(f.names()).containsExactly("input.attention_mask", "input.input_ids", "output.last_hidden_state",
                    "output.pooler_output");
            assertThat(f.metadata()).isEmpty();
            assertThat(f.dtype("input.input_ids")).isEqualTo(SafetensorsDtype.I64);
            assertThat(f.shape("input.input_ids")).containsExactly(2, 12);
            assertThat(f.shape("output.last_hidden_state")).containsExactly(2, 12, 32);
            assertThat(f.shape("output.pooler_output")).containsExactly(2, 32);
            long[] mask = f.longs("input.attention_mask");
            for (int i = 0; i < 24; i++) {
                assertThat(mask[i]).as("mask %d", i).isEqualTo(i >= 12 + 9 ? 0 : 1); // second row padded from 9
            }
            assertThat(java.util.Arrays.stream(f.longs("input.input_ids"))).allMatch(id -> id >= 0 && id < 500);
            Tensor hidden = f.tensor("output.last_hidden_state");
            assertThat(hidden.shape()).containsExactly(2, 12, 32);
            assertThat(hidden.isFinite()).isTrue();
            assertThat(f.info("output.pooler_output").byteSize()).isEqualTo(2 * 32 * 4);
        }
        try (SafetensorsFile f = SafetensorsFile.open(fixture("vit_tiny.reference.safetensors"))) {
            assertThat(f.names()).containsExactly("input.pixel_values", "output.last_hidden_state", "output.pooler_output");
            assertThat(f.shape("input.pixel_values")).containsExactly(2, 3, 32, 32);
            assertThat(f.shape("output.last_hidden_state")).containsExactly(2, 17, 32);
            assertThat(f.shape("output.pooler_output")).containsExactly(2, 32);
            assertThat(f.tensor("output.pooler_output").maxAbs()).isLessThanOrEqualTo(1f); // tanh
        }
    }

    @Test
    void writerReproducesTheReferenceImplementationsBytes() throws Exception {
        for (String name : List.of("bert_tiny.reference.safetensors", "vit_tiny.reference.safetensors")) {
            SafetensorsWriter w = new SafetensorsWriter();
            try (SafetensorsFile f = SafetensorsFile.open(fixture(name))) {
                for (String t : f.names()) {
                    w.addRaw(t, f.dtype(t), f.bytes(t), f.shape(t));
                }
                assertThat(w.toByteArray()).as(name).isEqualTo(Files.readAllBytes(fixture(name)));
            }
        }
    }

    @Test
    void everyDtypeRoundTripsExactly(@TempDir Path dir) {
        float[] f = {1.5f, -0f, Float.MIN_VALUE, 3.4e38f, -1e-7f, 65504f};
        Path file = dir.resolve("all.safetensors");
        new SafetensorsWriter()
                .addFloats("f32", f, 2, 3)
                .addFloat16("f16", f, 6)
                .addBfloat16("bf16", f, 3, 2)
                .addDoubles("f64", new double[] {Math.PI, -1e300}, 2)
                .addLongs("i64", new long[] {Long.MIN_VALUE, -1, Long.MAX_VALUE}, 3)
                .addInts("i32", new int[] {Integer.MIN_VALUE, 0, Integer.MAX_VALUE}, 3)
                .addRaw("i16", SafetensorsDtype.I16, le(0xff, 0xff, 0x00, 0x80), 2)
                .addRaw("u16", SafetensorsDtype.U16, le(0xff, 0xff), 1)
                .addRaw("i8", SafetensorsDtype.I8, le(0x80, 0xff, 0x7f), 3)
                .addRaw("u8", SafetensorsDtype.U8, le(0xff, 0x00), 2)
                .addRaw("bool", SafetensorsDtype.BOOL, le(1, 0, 1), 3)
                .addRaw("u32", SafetensorsDtype.U32, le(0xff, 0xff, 0xff, 0xff), 1)
                .addRaw("u64", SafetensorsDtype.U64, le(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), 1)
                .addRaw("f8", SafetensorsDtype.F8_E4M3, le(0x38), 1)
                .addFloats("scalar", new float[] {7f})
                .addFloats("empty", new float[0], 0, 4)
                .add("tensor", Tensor.of(new float[] {1, 2, 3, 4}, 2, 2), SafetensorsDtype.BF16)
                .metadata("format", "pt")
                .metadata("note", "ünïcode \"quoted\"")
                .write(file);
        try (SafetensorsFile r = SafetensorsFile.open(file)) {
            assertThat(r.metadata()).isEqualTo(Map.of("format", "pt", "note", "ünïcode \"quoted\""));
            assertThat(r.floats("f32")).containsExactly(f);
            assertThat(r.floats("f16")).containsExactly(HalfPrecision.float16ToFloat(HalfPrecision.floatToFloat16(f)));
            assertThat(r.floats("bf16")).containsExactly(HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBfloat16(f)));
            assertThat(r.floats("f64")).containsExactly((float) Math.PI, Float.NEGATIVE_INFINITY);
            assertThat(r.longs("i64")).containsExactly(Long.MIN_VALUE, -1, Long.MAX_VALUE);
            assertThat(r.longs("i32")).containsExactly(Integer.MIN_VALUE, 0, Integer.MAX_VALUE);
            assertThat(r.longs("i16")).containsExactly(-1, Short.MIN_VALUE);
            assertThat(r.longs("u16")).containsExactly(65535);
            assertThat(r.longs("i8")).containsExactly(-128, -1, 127);
            assertThat(r.longs("u8")).containsExactly(255, 0);
            assertThat(r.longs("bool")).containsExactly(1, 0, 1);
            assertThat(r.longs("u32")).containsExactly(0xffffffffL);
            assertThat(r.longs("u64")).containsExactly(-1L);
            assertThat(r.bytes("f8").get(0)).isEqualTo((byte) 0x38);
            assertThat(r.shape("scalar")).isEmpty();
            assertThat(r.floats("scalar")).containsExactly(7f);
            assertThat(r.shape("empty")).containsExactly(0, 4);
            assertThat(r.floats("empty")).isEmpty();
            assertThat(r.tensor("tensor")).isEqualTo(Tensor.of(new float[] {1, 2, 3, 4}, 2, 2));
            TensorValue tv = r.tensorValue("f16");
            assertThat(tv.dataType()).isEqualTo(DataType.FLOAT16);
            assertThat(tv.toFloats()).containsExactly(r.floats("f16"));
            assertThatThrownBy(() -> r.floats("i64")).isInstanceOf(InvalidRequestException.class).hasMessageContaining("use longs()");
            assertThatThrownBy(() -> r.longs("f32")).isInstanceOf(InvalidRequestException.class).hasMessageContaining("use floats()");
            assertThatThrownBy(() -> r.info("nope")).isInstanceOf(InvalidRequestException.class)
                    .hasMessageContaining(file.toString()).hasMessageContaining("\"nope\"");
        }
    }

    private static ByteBuffer le(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = (byte) b[i];
        }
        return ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void outputIsDeterministicSortedAndAligned(@TempDir Path dir) throws Exception {
        SafetensorsWriter a = new SafetensorsWriter().addFloats("b", new float[] {1}, 1).addLongs("a", new long[] {2}, 1)
                .addFloats("Z", new float[] {3}).metadata("y", "1").metadata("x", "2");
        SafetensorsWriter b = new SafetensorsWriter().metadata("x", "2").addFloats("Z", new float[] {3})
                .addLongs("a", new long[] {2}, 1).metadata("y", "1").addFloats("b", new float[] {1}, 1);
        byte[] bytes = a.toByteArray();
        assertThat(b.toByteArray()).isEqualTo(bytes);
        long headerLen = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        assertThat(headerLen % 8).isZero();
        String header = new String(bytes, 8, (int) headerLen, StandardCharsets.UTF_8);
        assertThat(header).startsWith("{\"__metadata__\":{\"x\":\"2\",\"y\":\"1\"},\"Z\":{\"dtype\":\"F32\",\"shape\":[],"
                + "\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[4,12]},\"b\":");
        assertThat(header.trim()).endsWith("}");
        assertThat(header.substring(header.trim().length())).matches(" *");
        Path file = dir.resolve("det.safetensors");
        a.write(file);
        assertThat(Files.readAllBytes(file)).isEqualTo(bytes);
        assertThatThrownBy(() -> a.addFloats("b", new float[] {1}, 1)).hasMessageContaining("already added");
        assertThatThrownBy(() -> a.addFloats("__metadata__", new float[] {1}, 1)).hasMessageContaining("reserved");
        assertThatThrownBy(() -> a.addFloats("c", new float[] {1, 2}, 3)).hasMessageContaining("3 elements");
        assertThatThrownBy(() -> a.add(TensorValue.ofStrings("s", List.of("x"), 1))).isInstanceOf(InvalidRequestException.class);
    }

    @Test
    void smallChunksGiveTheSameBytesIncludingTensorsThatStraddleChunks(@TempDir Path dir) throws Exception {
        Random rnd = new Random(99);
        SafetensorsWriter w = new SafetensorsWriter();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            float[] v = new float[rnd.nextInt(40)];
            for (int k = 0; k < v.length; k++) {
                v[k] = rnd.nextFloat();
            }
            String name = "t" + i;
            names.add(name);
            if (i % 3 == 0) {
                w.addFloat16(name, v, v.length);
            } else {
                w.addFloats(name, v, v.length);
            }
        }
        Path file = dir.resolve("chunks.safetensors");
        w.write(file);
        long dataStart = 8 + ByteBuffer.wrap(Files.readAllBytes(file), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        try (SafetensorsFile whole = SafetensorsFile.open(file)) {
            for (long chunk : new long[] {1, 7, 64, 100, 4096}) {
                int straddling = 0;
                try (SafetensorsFile small = SafetensorsFile.open(file, chunk)) {
                    for (String n : names) {
                        TensorInfo info = small.info(n);
                        long from = dataStart + info.begin();
                        long to = dataStart + info.end();
                        if (to > from && from / chunk != (to - 1) / chunk) {
                            straddling++;
                        }
                        assertThat(small.bytes(n)).as("chunk %d tensor %s", chunk, n).isEqualTo(whole.bytes(n));
                        assertThat(small.floats(n)).isEqualTo(whole.floats(n));
                    }
                }
                if (chunk < 4096) {
                    assertThat(straddling).as("chunk " + chunk).isPositive();
                }
            }
        }
    }

    @Test
    void closedFilesFailLoudly(@TempDir Path dir) {
        Path file = dir.resolve("c.safetensors");
        new SafetensorsWriter().addFloats("x", new float[] {1, 2}, 2).write(file);
        SafetensorsFile f = SafetensorsFile.open(file);
        ByteBuffer kept = f.bytes("x");
        f.close();
        f.close(); // idempotent
        assertThatThrownBy(() -> f.floats("x")).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        assertThat(kept.getFloat(4)).isEqualTo(2f);
        assertThat(f.names()).containsExactly("x"); // the header stays readable
    }

    /** Builds a header for the given (name, dtype, size) entries laid out contiguously from offset 0. */
    private static String header(long[][] ranges, String[] names, String[] dtypes, long[][] shapes) {
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < names.length; i++) {
            sb.append(i == 0 ? "" : ",").append('"').append(names[i]).append("\":{\"dtype\":\"").append(dtypes[i])
                    .append("\",\"shape\":").append(java.util.Arrays.toString(shapes[i]).replace(" ", ""))
                    .append(",\"data_offsets\":[").append(ranges[i][0]).append(',').append(ranges[i][1]).append("]}");
        }
        return sb.append('}').toString();
    }

    @Test
    void filesLargerThan2GbAreMappedInChunks(@TempDir Path dir) throws Exception {
        assumeThat(Files.getFileStore(dir).getUsableSpace()).isGreaterThan(8L << 30); // in case sparse files are not
        // a: U8 filler over 2 GiB, b: 4 floats straddling file offset 3 GiB (a chunk boundary), c: 4 floats past it
        long boundary = 3L << 30;
        long size = boundary - 100;
        String h = "";
        long dataStart = 0;
        for (int pass = 0; pass < 3; pass++) { // the header length depends on the digits of the sizes
            long[][] r = {{0, size}, {size, size + 16}, {size + 16, size + 32}};
            h = header(r, new String[] {"a", "b", "c"}, new String[] {"U8", "F32", "F32"},
                    new long[][] {{size}, {4}, {4}});
            int padded = (h.length() + 7) / 8 * 8;
            dataStart = 8 + padded;
            size = boundary - dataStart - 8; // b's 16 bytes run from 3 GiB - 8 to 3 GiB + 8
        }
        int padded = (h.length() + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(h.getBytes(StandardCharsets.US_ASCII));
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();
        ByteBuffer bc = ByteBuffer.allocate(32).order(ByteOrder.LITTLE_ENDIAN);
        bc.asFloatBuffer().put(new float[] {1, 2, 3, 4, 5, 6, 7, 8});
        Path file = dir.resolve("big.safetensors");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(head, 0);
            ch.write(bc, dataStart + size); // sparse hole before it
        }
        assertThat(Files.size(file)).isGreaterThan(boundary);
        assertThat(dataStart + size).isEqualTo(boundary - 8);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertThat(f.floats("b")).containsExactly(1, 2, 3, 4);
            assertThat(f.floats("c")).containsExactly(5, 6, 7, 8);
            assertThat(f.info("a").byteSize()).isGreaterThan(1L << 31);
            assertThatThrownBy(() -> f.bytes("a")).isInstanceOf(io.senseflow.ModelLoadException.class)
                    .hasMessageContaining("over 2 GiB");
        }
    }

    // ---------------------------------------------------------------- corrupt and lying files

    private static Path file(Path dir, String name, byte[] content) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, content);
        return p;
    }

    /** A file whose header is {@code json} (padded) followed by {@code dataBytes} zero bytes. */
    private static byte[] withHeader(String json, int dataBytes) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }

    private static void assertRejected(Path dir, String fileName, byte[] content, String... fragments) throws Exception {
        Path p = file(dir, fileName, content);
        var thrown = assertThatThrownBy(() -> SafetensorsFile.open(p).close())
                .isInstanceOf(io.senseflow.ModelLoadException.class)
                .hasMessageContaining(p.toString());
        for (String f : fragments) {
            thrown.hasMessageContaining(f);
        }
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    @Test
    void corruptAndLyingHeadersAreRejectedNamingTheFileAndTensor(@TempDir Path dir) throws Exception {
        ByteBuffer len = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        assertRejected(dir, "short.safetensors", new byte[5], "too short");
        assertRejected(dir, "past_end.safetensors", len.clear().putLong(0, 100).array(), "runs past the end");
        assertRejected(dir, "huge_header.safetensors", len.clear().putLong(0, 1L << 40).array(), "100000000-byte limit");
        assertRejected(dir, "negative_header.safetensors", len.clear().putLong(0, -8).array(), "18446744073709551608");
        assertRejected(dir, "empty_header.safetensors", withHeader("", 0), "too short for a JSON object");
        byte[] badUtf8 = withHeader("{\"x\":1}", 0);
        badUtf8[10] = (byte) 0xff;
        assertRejected(dir, "utf8.safetensors", badUtf8, "UTF-8");
        assertRejected(dir, "not_json.safetensors", withHeader("{\"a\":", 0), "not valid JSON");
        assertRejected(dir, "trailing_garbage.safetensors", withHeader("{}  x", 0), "not valid JSON");
        assertRejected(dir, "array.safetensors", withHeader("[1,2]", 0), "must be a JSON object, got an array");
        assertRejected(dir, "entry_kind.safetensors", withHeader("{\"w\":[1]}", 0), "tensor \"w\" must be an object");
        assertRejected(dir, "no_dtype.safetensors", withHeader("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
                "tensor \"w\"", "dtype: required field is missing");
        assertRejected(dir, "dtype.safetensors", withHeader("{" + entry("w", "F17", "[1]", 0, 4) + "}", 4),
                "tensor \"w\" has unknown dtype \"F17\"");
        assertRejected(dir, "negative_dim.safetensors", withHeader("{" + entry("w", "F32", "[-1]", 0, 4) + "}", 4),
                "tensor \"w\" has a negative dimension");
        assertRejected(dir, "fraction_dim.safetensors", withHeader("{" + entry("w", "F32", "[1.5]", 0, 4) + "}", 4),
                "tensor \"w\"", "expected an integer");
        assertRejected(dir, "offsets_count.safetensors",
                withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4]}}", 4), "tensor \"w\" data_offsets");
        assertRejected(dir, "begin_after_end.safetensors", withHeader("{" + entry("w", "F32", "[0]", 4, 0) + "}", 4),
                "tensor \"w\" has data_offsets [4, 0]");
        assertRejected(dir, "beyond_data.safetensors", withHeader("{" + entry("w", "F32", "[4]", 0, 16) + "}", 8),
                "tensor \"w\" data ends at 16, past the end of the data section (8 bytes)");
        assertRejected(dir, "size_mismatch.safetensors", withHeader("{" + entry("w", "F32", "[2,2]", 0, 12) + "}", 12),
                "tensor \"w\" is F32 [2, 2] = 16 bytes, but its data_offsets span 12 bytes");
        assertRejected(dir, "count_overflow.safetensors",
                withHeader("{" + entry("w", "F32", "[1099511627776,1099511627776]", 0, 4) + "}", 4),
                "tensor \"w\"", "overflows the element count");
        assertRejected(dir, "bytes_overflow.safetensors",
                withHeader("{" + entry("w", "F32", "[4611686018427387904]", 0, 4) + "}", 4), "tensor \"w\"", "overflows the byte size");
        assertRejected(dir, "overlap.safetensors",
                withHeader("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12),
                "tensor \"b\" bytes [4, 12) overlap tensor \"a\" [0, 8)");
        assertRejected(dir, "gap.safetensors",
                withHeader("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}", 12),
                "tensor \"b\" starts at 8, leaving a gap of 4");
        assertRejected(dir, "trailing_bytes.safetensors", withHeader("{" + entry("a", "F32", "[1]", 0, 4) + "}", 6),
                "data section has 6 bytes but the tensors cover 4");
        assertRejected(dir, "duplicate.safetensors",
                withHeader("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("a", "F32", "[1]", 4, 8) + "}", 8),
                "duplicate key \"a\"");
        assertRejected(dir, "metadata_kind.safetensors", withHeader("{\"__metadata__\":[\"x\"]}", 0),
                "\"__metadata__\" must be an object of strings");
        assertRejected(dir, "metadata_value.safetensors", withHeader("{\"__metadata__\":{\"k\":1}}", 0),
                "\"__metadata__\" entry \"k\" must be a string, got a number");
        byte[] good = new SafetensorsWriter().addFloats("w", new float[] {1, 2, 3}, 3).toByteArray();
        assertRejected(dir, "truncated.safetensors", java.util.Arrays.copyOf(good, good.length - 1),
                "tensor \"w\" data ends at 12, past the end of the data section (11 bytes)");
        Path missing = dir.resolve("missing.safetensors");
        assertThatThrownBy(() -> SafetensorsFile.open(missing)).isInstanceOf(io.senseflow.ModelLoadException.class)
                .hasMessageContaining(missing.toString()).hasMessageContaining("does not exist");
    }

    @Test
    void everyTruncationOfAValidFileIsRejected(@TempDir Path dir) throws Exception {
        byte[] good = new SafetensorsWriter().addFloats("w", new float[] {1, 2, 3}, 3).addLongs("i", new long[] {4}, 1)
                .metadata("k", "v").toByteArray();
        Path p = dir.resolve("cut.safetensors");
        for (int k = 0; k < good.length; k++) {
            Files.write(p, java.util.Arrays.copyOf(good, k));
            assertThatThrownBy(() -> SafetensorsFile.open(p).close()).as("cut at " + k)
                    .isInstanceOf(io.senseflow.ModelLoadException.class).hasMessageContaining(p.toString());
        }
        Files.write(p, good);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.metadata()).containsEntry("k", "v");
        }
    }
}
