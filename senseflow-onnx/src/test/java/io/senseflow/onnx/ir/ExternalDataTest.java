package io.senseflow.onnx.ir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExternalDataTest {

    /** x [2, 64] -> x W1 (64x64, 16 KiB) + b (inline) -> * cast(W2 fp16) (2 KiB) -> y. */
    static OnnxModel model() {
        GraphBuilder g = GraphBuilder.create("external");
        String x = g.input("x", DataType.FLOAT, Dim.of(2), Dim.of(64));
        String w1 = g.initializer("w1", OrtExecutionTest.random(1, 64 * 64), 64, 64);
        String b = g.initializer("b", OrtExecutionTest.random(2, 64), 64);
        String w2 = g.initializer(TensorValue.ofFloat16("w2", OrtExecutionTest.random(3, 1024), 16, 64));
        String h = g.add(g.matMul(x, w1), b);
        String y = g.matMul(h, g.transpose(g.cast(w2, DataType.FLOAT), 1, 0));
        g.output(y, "y", DataType.FLOAT, Dim.of(2), Dim.of(16));
        return g.build();
    }

    static Map<String, Ort.In> input() {
        return Map.of("x", Ort.In.floats(OrtExecutionTest.random(4, 128), 2, 64));
    }

    @Test
    void largeInitializersGoToOneAlignedDataFile(@TempDir Path dir) throws Exception {
        OnnxModel model = model();
        Path file = dir.resolve("model.onnx");
        model.write(file, WriteOptions.externalData(1024));
        Path data = dir.resolve("model.onnx_data");
        assertThat(data).exists();
        assertThat(Files.size(file)).isLessThan(2048);

        OnnxModel back = OnnxModel.read(file);
        assertThat(back).isEqualTo(model);
        TensorValue w1 = back.graph().initializer("w1").orElseThrow();
        TensorValue w2 = back.graph().initializer("w2").orElseThrow();
        assertThat(w1.storage()).isEqualTo(TensorValue.Storage.EXTERNAL);
        assertThat(w2.storage()).isEqualTo(TensorValue.Storage.EXTERNAL);
        assertThat(back.graph().initializer("b").orElseThrow().storage()).isEqualTo(TensorValue.Storage.RAW);
        assertThat(w1.externalData().location()).isEqualTo("model.onnx_data");
        assertThat(w1.externalData().offset()).isZero();
        assertThat(w2.externalData().offset()).isEqualTo(16384); // 16 KiB, already 4 KiB aligned
        assertThat(w2.externalData().length()).isEqualTo(2048);
        assertThat(Files.size(data)).isEqualTo(16384 + 2048);

        Map<String, Ort.Out> inline = Ort.run(model, input());
        Map<String, Ort.Out> external = Ort.run(file, input());
        assertThat(external.get("y").floats()).containsExactly(inline.get("y").floats());

        // writing the same model again gives the same bytes (deterministic)
        Path again = dir.resolve("again/model.onnx");
        back.write(again, WriteOptions.externalData(1024));
        assertThat(Files.readAllBytes(again)).isEqualTo(Files.readAllBytes(file));
        assertThat(Files.readAllBytes(again.resolveSibling("model.onnx_data"))).isEqualTo(Files.readAllBytes(data));
    }

    @Test
    void offsetsAreAlignedAndTheFileNameIsConfigurable(@TempDir Path dir) {
        GraphBuilder g = GraphBuilder.create("aligned");
        String x = g.input("x", DataType.FLOAT, Dim.of(3));
        String a = g.initializer("a", new float[] {1, 2, 3}, 3);
        String c = g.initializer("c", new float[] {4, 5, 6}, 3);
        g.output(g.add(g.add(x, a), c), "y", DataType.FLOAT, Dim.of(3));
        OnnxModel m = g.build();
        Path file = dir.resolve("tiny.onnx");
        m.write(file, WriteOptions.externalData(0).withExternalFileName("weights.bin"));
        OnnxModel back = OnnxModel.read(file);
        assertThat(back.graph().initializer("c").orElseThrow().externalData().offset()).isEqualTo(4096);
        assertThat(back.graph().initializer("c").orElseThrow().externalData().location()).isEqualTo("weights.bin");
        m.write(file, WriteOptions.externalData(0).withExternalFileName("weights.bin").withAlignment(64));
        assertThat(OnnxModel.read(file).graph().initializer("c").orElseThrow().externalData().offset()).isEqualTo(64);
        assertThat(Ort.run(file, Map.of("x", Ort.In.floats(new float[] {1, 1, 1}, 3))).get("y").floats())
                .containsExactly(6, 8, 10);
        assertThatThrownBy(() -> WriteOptions.externalData(0).withAlignment(100)).isInstanceOf(InvalidRequestException.class);
        assertThatThrownBy(() -> WriteOptions.externalData(0).withExternalFileName("../x")).isInstanceOf(InvalidRequestException.class);
        assertThatThrownBy(() -> m.write(file, WriteOptions.externalData(0).withExternalFileName("tiny.onnx")))
                .isInstanceOf(InvalidRequestException.class);
    }

    @Test
    void subgraphInitializersGoToTheDataFileToo(@TempDir Path dir) {
        GraphBuilder g = GraphBuilder.create("branches");
        String x = g.input("x", DataType.FLOAT, Dim.of(3));
        GraphBuilder then = g.subgraph("then");
        then.output(then.mul(x, then.initializer("then_scale", new float[] {2, 3, 4}, 3)), DataType.FLOAT, Dim.of(3));
        GraphBuilder otherwise = g.subgraph("else");
        otherwise.output(otherwise.neg(x), DataType.FLOAT, Dim.of(3));
        String y = g.op("If").input(g.greater(g.reduceSum(x, false), g.floatScalar(0f)))
                .attr("then_branch", then.buildGraph()).attr("else_branch", otherwise.buildGraph()).output();
        g.output(y, "y", DataType.FLOAT, Dim.of(3));
        Path file = dir.resolve("model.onnx");
        g.build().write(file, WriteOptions.externalData(0));
        OnnxGraph sub = OnnxModel.read(file).graph().nodes("If").get(0).attribute("then_branch").orElseThrow().graphValue();
        assertThat(sub.initializer("then_scale").orElseThrow().isExternal()).isTrue();
        assertThat(Ort.run(file, Map.of("x", Ort.In.floats(new float[] {1, 1, 1}, 3))).get("y").floats())
                .containsExactly(2, 3, 4);
    }

    @Test
    void rewritingCopiesPayloadsFromTheOldDataFile(@TempDir Path dir) throws Exception {
        Path first = dir.resolve("a/model.onnx");
        model().write(first, WriteOptions.externalData(1024));
        OnnxModel read = OnnxModel.read(first);

        Path inline = dir.resolve("b/model.onnx");
        read.write(inline);
        assertThat(inline.resolveSibling("model.onnx_data")).doesNotExist();
        assertThat(OnnxModel.read(inline)).isEqualTo(model());

        // in place: the new data file replaces the one being read from
        read.write(first, WriteOptions.externalData(1024));
        assertThat(OnnxModel.read(first)).isEqualTo(model());
        assertThat(Ort.run(first, input()).get("y").floats()).containsExactly(Ort.run(model(), input()).get("y").floats());

        // parsed from bytes there is no folder: the reference is kept but the bytes cannot be read
        OnnxModel parsed = OnnxModel.parse(Files.readAllBytes(first), "bytes");
        TensorValue w1 = parsed.graph().initializer("w1").orElseThrow();
        assertThat(w1.isExternal()).isTrue();
        assertThat(w1.externalData().file()).isNull();
        assertThatThrownBy(w1::toFloats).isInstanceOf(ModelLoadException.class).hasMessageContaining("without a folder");
    }

    @Test
    void missingOrShortDataFilesNameBothFiles(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("model.onnx");
        model().write(file, WriteOptions.externalData(1024));
        Path data = dir.resolve("model.onnx_data");
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.WRITE)) {
            ch.truncate(17000);
        }
        assertThatThrownBy(() -> OnnxModel.read(file)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining(data.toString())
                .hasMessageContaining("initializer[2]: tensor \"w2\"").hasMessageContaining("only 17000 bytes");
        Files.delete(data);
        assertThatThrownBy(() -> OnnxModel.read(file)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining(data.toString()).hasMessageContaining("missing");
    }

    static byte[] externalTensorModel(String location, String offset, String length, long dim) {
        Pb tensor = Pb.msg().varint(1, dim).varint(2, 1).string(8, "w")
                .message(13, Pb.msg().string(1, "location").string(2, location));
        if (offset != null) {
            tensor.message(13, Pb.msg().string(1, "offset").string(2, offset));
        }
        if (length != null) {
            tensor.message(13, Pb.msg().string(1, "length").string(2, length));
        }
        tensor.varint(14, 1);
        Pb graph = Pb.msg().message(1, Pb.msg().string(1, "x").string(1, "w").string(2, "y").string(4, "Add"))
                .string(2, "g").message(5, tensor)
                .message(11, Pb.valueInfo("x", 1, dim)).message(12, Pb.valueInfo("y", 1, dim));
        return Pb.model(graph);
    }

    @Test
    void locationsMustStayInsideTheModelFolderAndLengthsMustMatch(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("m"));
        Files.write(dir.resolve("outside.bin"), new byte[64]);
        Files.write(dir.resolve("m/w.bin"), new byte[64]);
        Path model = dir.resolve("m/model.onnx");
        for (String bad : new String[] {"../outside.bin", "/etc/hostname", "sub/../../outside.bin"}) {
            Files.write(model, externalTensorModel(bad, "0", "64", 16));
            assertThatThrownBy(() -> OnnxModel.read(model)).as(bad).isInstanceOf(ModelLoadException.class)
                    .hasMessageContaining("inside the model's folder");
        }
        Files.write(model, externalTensorModel("w.bin", "0", "60", 16));
        assertThatThrownBy(() -> OnnxModel.read(model)).hasMessageContaining("needs 64 bytes, but its external data length is 60");
        Files.write(model, externalTensorModel("w.bin", "8", null, 16));
        assertThatThrownBy(() -> OnnxModel.read(model)).hasMessageContaining("needs bytes [8, 72)");
        Files.write(model, externalTensorModel("w.bin", "-1", null, 16));
        assertThatThrownBy(() -> OnnxModel.read(model)).hasMessageContaining("non-negative integer");
        Files.write(model, externalTensorModel("w.bin", "99999999999999999999", null, 16));
        assertThatThrownBy(() -> OnnxModel.read(model)).isInstanceOf(ModelLoadException.class);
        Files.write(model, externalTensorModel("w.bin", null, null, 16));
        assertThat(OnnxModel.read(model).graph().initializer("w").orElseThrow().toFloats()).containsOnly(0f);
    }

    @Test
    void dataFilesLargerThan2GbAreReadAndCopiedInChunks(@TempDir Path dir) throws Exception {
        assumeThat(Files.getFileStore(dir).getUsableSpace()).isGreaterThan(6L << 30); // in case sparse files are not
        long offset = (5L << 29) + 4096; // 2.5 GiB + 4 KiB: beyond any int offset
        Path data = dir.resolve("big.onnx_data");
        float[] values = OrtExecutionTest.random(7, 16);
        ByteBuffer payload = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        payload.asFloatBuffer().put(values);
        try (FileChannel ch = FileChannel.open(data, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(payload, offset); // sparse: the hole costs no disk space
        }
        assertThat(Files.size(data)).isGreaterThan(1L << 31);
        Path model = dir.resolve("big.onnx");
        Files.write(model, externalTensorModel("big.onnx_data", Long.toString(offset), "64", 16));

        OnnxModel m = OnnxModel.read(model);
        TensorValue w = m.graph().initializer("w").orElseThrow();
        assertThat(w.externalData().offset()).isEqualTo(offset);
        assertThat(w.toFloats()).containsExactly(values);
        float[] ones = new float[16];
        java.util.Arrays.fill(ones, 1f);
        float[] expected = new float[16];
        for (int i = 0; i < 16; i++) {
            expected[i] = values[i] + 1f;
        }
        assertThat(Ort.run(model, Map.of("x", Ort.In.floats(ones, 16))).get("y").floats()).containsExactly(expected);

        Path copy = dir.resolve("copy/model.onnx");
        m.write(copy, WriteOptions.externalData(0));
        assertThat(Files.size(copy.resolveSibling("model.onnx_data"))).isEqualTo(64);
        assertThat(OnnxModel.read(copy).graph().initializer("w").orElseThrow().toFloats()).containsExactly(values);
    }
}
