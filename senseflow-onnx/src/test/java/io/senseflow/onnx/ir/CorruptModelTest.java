package io.senseflow.onnx.ir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.senseflow.ModelLoadException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corrupt or lying model bytes end in a {@link ModelLoadException} that names the source, never in another
 * exception, an OutOfMemoryError or a hang. (A bit flip inside a weight still parses: protobuf has no checksum, so
 * random corruption can only be required to fail cleanly or give some model.)
 */
class CorruptModelTest {
    private static final String SOURCE = "corrupt.onnx";

    /** A small model with nodes, attributes, an inline initializer and typed data; opset_import is written last. */
    static byte[] smallModel() {
        GraphBuilder g = GraphBuilder.create("small");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(4));
        String w = g.initializer("w", OrtExecutionTest.random(1, 12), 4, 3);
        String b = g.initializer(TensorValue.ofLongs("shape", new long[] {-1, 3}, 2).withStorage(TensorValue.Storage.TYPED));
        String h = g.gemm(x, w, null, 0.5f, 1f, false, false);
        g.output(g.softmax(g.reshape(h, b), -1), "y", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        return g.build().toByteArray();
    }

    /** Parses; on success also touches every payload and re-serializes, which must not fail either. */
    static boolean parsesOrFailsCleanly(byte[] bytes) {
        try {
            OnnxModel m = OnnxModel.parse(bytes, SOURCE);
            for (TensorValue t : m.graph().initializers()) {
                if (t.dataType() != DataType.STRING && !t.isExternal()) {
                    t.bytes();
                }
            }
            OnnxModel.parse(m.toByteArray(), "again");
            return true;
        } catch (ModelLoadException e) {
            assertThat(e.getMessage()).startsWith(SOURCE + ": ");
            return false;
        }
    }

    @Test
    void everyTruncationFails() {
        byte[] model = smallModel();
        assertThat(parsesOrFailsCleanly(model)).isTrue();
        for (int k = 0; k < model.length; k++) {
            byte[] cut = Arrays.copyOf(model, k);
            assertThatThrownBy(() -> OnnxModel.parse(cut, SOURCE)).as("cut at " + k).isInstanceOf(ModelLoadException.class)
                    .hasMessageStartingWith(SOURCE + ": cannot read ONNX model: ");
        }
    }

    @Test
    void truncatedTorchExportsFail() throws Exception {
        byte[] vit = Files.readAllBytes(TorchFixturesTest.fixture("vit_tiny.onnx"));
        Random r = new Random(7);
        for (int i = 0; i < 300; i++) {
            int k = i < 100 ? i : r.nextInt(vit.length);
            byte[] cut = Arrays.copyOf(vit, k);
            assertThatThrownBy(() -> OnnxModel.parse(cut, SOURCE)).as("cut at " + k).isInstanceOf(ModelLoadException.class);
        }
    }

    @Test
    void everySingleBitFlipParsesOrFailsCleanly() {
        byte[] model = smallModel();
        int failures = 0;
        for (int bit = 0; bit < model.length * 8; bit++) {
            byte[] flipped = model.clone();
            flipped[bit / 8] ^= (byte) (1 << (bit % 8));
            if (!parsesOrFailsCleanly(flipped)) {
                failures++;
            }
        }
        assertThat(failures).isGreaterThan(model.length); // most structural bytes are caught
    }

    @Test
    void randomDamageToATorchExportParsesOrFailsCleanly() throws Exception {
        byte[] bert = Files.readAllBytes(TorchFixturesTest.fixture("bert_tiny.onnx"));
        Random r = new Random(1234);
        int failures = 0;
        for (int i = 0; i < 400; i++) {
            byte[] damaged = bert.clone();
            int hits = 1 + r.nextInt(4);
            for (int h = 0; h < hits; h++) {
                int at = r.nextInt(damaged.length);
                if (r.nextBoolean()) {
                    damaged[at] ^= (byte) (1 << r.nextInt(8));
                } else {
                    damaged[at] = (byte) r.nextInt(256);
                }
            }
            if (!parsesOrFailsCleanly(damaged)) {
                failures++;
            }
        }
        assertThat(failures).isGreaterThan(0);
    }

    private static void assertFails(byte[] bytes, String fragment) {
        assertThatThrownBy(() -> OnnxModel.parse(bytes, SOURCE)).isInstanceOf(ModelLoadException.class)
                .hasMessageStartingWith(SOURCE + ": ").hasMessageContaining(fragment);
    }

    private static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = (byte) b[i];
        }
        return out;
    }

    @Test
    void wireFormatErrors() {
        assertFails(new byte[0], "no graph");
        assertFails("hello, world".getBytes(java.nio.charset.StandardCharsets.US_ASCII), "");
        assertFails(bytes(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), "longer than 64 bits");
        assertFails(bytes(0x08, 0xff), "varint runs past the end");
        assertFails(bytes(0x00, 0x00), "field number 0");
        assertFails(bytes(0x0b), "group encoding");
        assertFails(bytes(0x0e), "invalid wire type 6");
        assertFails(bytes(0x3a, 0x10, 0x01), "length 16 runs past the end");
        assertFails(Pb.msg().tag(7, 2).rawVarint(1L << 62).toBytes(), "length 4611686018427387904 runs past the end");
        assertFails(Pb.msg().tag(7, 2).rawVarint(-1L).toBytes(), "length 18446744073709551615 runs past the end");
        assertFails(Pb.msg().tag(0xfffffff, 0).rawVarint(1).toBytes(), ""); // field numbers this large are still skippable
        assertFails(Pb.msg().tag(1, 2).rawVarint(0).toBytes(), "field 1 (ir_version) has wire type 2, expected 0");
        assertFails(Pb.msg().varint(7, 1).toBytes(), "field 7 (graph) has wire type 0, expected 2");
        assertFails(Pb.msg().rawVarint(1L << 35).toBytes(), "out of range");
        assertFails(Pb.msg().fixed32(1, 5).toBytes(), "wire type 5");
    }

    private static byte[] modelWithInitializer(Pb tensor) {
        return Pb.model(Pb.identityGraph().message(5, tensor));
    }

    @Test
    void tensorsWhosePayloadDisagreesWithTheirShape() {
        assertFails(modelWithInitializer(Pb.msg().varint(1, 2).varint(1, 2).varint(2, 1).string(8, "w").bytes(9, new byte[12])),
                "tensor \"w\" FLOAT [2, 2] needs 16 bytes of data, found 12 bytes of raw_data");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1L << 40).varint(1, 1L << 40).varint(2, 1).string(8, "w")),
                "overflow the element count");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1L << 61).varint(2, 1).string(8, "w")), "overflow the byte size");
        assertFails(modelWithInitializer(Pb.msg().varint(1, -1).varint(2, 1).string(8, "w")), "negative dimension");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1_000_000_000).varint(2, 1).string(8, "w")),
                "needs 4000000000 bytes of data, found none");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 99).string(8, "w").bytes(9, new byte[4])),
                "unknown data_type 99");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).string(8, "w").bytes(9, new byte[4])), "no data_type");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 7).string(8, "w").packedFloats(4, 1f)),
                "of type INT64 has its data in float_data");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 1).string(8, "w").packedFloats(4, 1f).bytes(9, new byte[4])),
                "more than one field");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 2).varint(2, 1).string(8, "w").packedFloats(4, 1f, 2f, 3f)),
                "needs 2 values in float_data, found 3");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 3).string(8, "w").varint(5, 300)),
                "value 300 at 0 is out of range for INT8");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 1).string(8, "w").bytes(4, new byte[5])),
                "not a multiple of 4");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 8).string(8, "w").bytes(9, new byte[1])),
                "must be in string_data");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 2).varint(2, 8).string(8, "w").string(6, "a")), "needs 2 strings, found 1");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 1).string(8, "w").bytes(9, new byte[4]).varint(14, 2)),
                "unknown data_location 2");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 1).string(8, "w")
                .message(13, Pb.msg().string(1, "location").string(2, "x.bin")).bytes(9, new byte[4])), "data_location is not EXTERNAL");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 1).string(8, "w").varint(14, 1)), "has no location");
        assertFails(modelWithInitializer(Pb.msg().varint(1, 1).varint(2, 1).string(8, "w").varint(14, 1).bytes(9, new byte[4])),
                "also carries inline data");
    }

    private static byte[] modelWithNode(Pb node) {
        return Pb.model(Pb.msg().message(1, node).message(11, Pb.valueInfo("x", 1, 2)).message(12, Pb.valueInfo("y", 1, 2)));
    }

    private static Pb identity() {
        return Pb.msg().string(1, "x").string(2, "y").string(4, "Identity");
    }

    @Test
    void nodesAndAttributesThatBreakTheRules() {
        assertFails(modelWithNode(identity().message(5, Pb.msg().string(1, "a").varint(20, 99))), "unknown type 99");
        assertFails(modelWithNode(identity().message(5, Pb.msg().string(1, "a").varint(20, 2).varint(3, 1).fixed32(2, 0))),
                "attribute \"a\" of type INT also carries a value in field 2");
        assertFails(modelWithNode(identity().message(5, Pb.msg().varint(20, 2).varint(3, 1))), "attribute has no name");
        assertFails(modelWithNode(identity().message(5, Pb.msg().string(1, "t").varint(20, 4))), "of type TENSOR has no tensor");
        assertFails(modelWithNode(identity().message(5, Pb.msg().string(1, "a"))), "has no type and no value");
        assertFails(modelWithNode(identity().message(5, Pb.msg().string(1, "a").varint(3, 1).fixed32(2, 0))), "several values");
        assertFails(modelWithNode(Pb.msg().string(1, "x").string(2, "y").string(3, "nameless")), "node \"nameless\" has no op_type");
        assertFails(modelWithNode(identity().bytes(3, new byte[] {(byte) 0xc3, 0x28})), "not valid UTF-8");
        assertFails(modelWithNode(identity().message(5, Pb.msg().string(1, "t").varint(20, 4)
                .message(5, Pb.msg().varint(1, 3).varint(2, 1).string(8, "inner").bytes(9, new byte[4])))),
                "graph: node[0]: attribute[0]: t: tensor \"inner\" FLOAT [3] needs 12 bytes");
        assertFails(Pb.model(Pb.identityGraph().message(11, Pb.valueInfo("z", 77, 1))), "unknown elem_type 77");
    }

    @Test
    void modelLevelRules() {
        byte[] graph = Pb.identityGraph().toBytes();
        assertFails(Pb.msg().bytes(7, graph).message(8, Pb.msg().varint(2, 17)).toBytes(), "ir_version is missing");
        assertFails(Pb.msg().varint(1, 8).bytes(7, graph).toBytes(), "imports no operator set");
        assertFails(Pb.msg().varint(1, 8).message(8, Pb.msg().varint(2, 17)).toBytes(), "no graph");
        assertFails(Pb.msg().varint(1, 8).bytes(7, graph).message(8, Pb.msg().varint(2, 17))
                .message(14, Pb.msg().string(1, "k").string(2, "a")).message(14, Pb.msg().string(1, "k").string(2, "b")).toBytes(),
                "duplicate key \"k\"");
    }

    @Test
    void deeplyNestedSubgraphsStopAtTheLimit() {
        Pb graph = Pb.identityGraph();
        for (int depth = 0; depth < 40; depth++) {
            Pb node = identity().message(5, Pb.msg().string(1, "body").varint(20, 5).message(6, graph));
            graph = Pb.msg().message(1, node);
        }
        assertFails(Pb.model(graph), "nested deeper than " + ModelDecoder.MAX_GRAPH_DEPTH);
        Pb ok = Pb.identityGraph();
        for (int depth = 0; depth < ModelDecoder.MAX_GRAPH_DEPTH - 1; depth++) {
            ok = Pb.msg().message(1, identity().message(5, Pb.msg().string(1, "body").varint(20, 5).message(6, ok)));
        }
        assertThat(OnnxModel.parse(Pb.model(ok), SOURCE).graph().nodes()).hasSize(1);
    }

    @Test
    void fileLevelProblemsNameTheFile(@TempDir Path dir) throws Exception {
        Path missing = dir.resolve("missing.onnx");
        assertThatThrownBy(() -> OnnxModel.read(missing)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining(missing.toString()).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> OnnxModel.read(dir)).isInstanceOf(ModelLoadException.class).hasMessageContaining("is a folder");
        Path cut = dir.resolve("cut.onnx");
        byte[] model = smallModel();
        Files.write(cut, Arrays.copyOf(model, model.length / 2));
        assertThatThrownBy(() -> OnnxModel.read(cut)).isInstanceOf(ModelLoadException.class)
                .hasMessageStartingWith(cut.toAbsolutePath().toString());
    }

    @Test
    void filesOverTheProtobufLimitAreRefusedBeforeReading(@TempDir Path dir) throws Exception {
        assumeThat(Files.getFileStore(dir).getUsableSpace()).isGreaterThan(6L << 30);
        Path huge = dir.resolve("huge.onnx");
        try (FileChannel ch = FileChannel.open(huge, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {1}), Integer.MAX_VALUE); // sparse
        }
        assertThatThrownBy(() -> OnnxModel.read(huge)).isInstanceOf(ModelLoadException.class)
                .hasMessageContaining("limited to 2 GiB");
    }
}
