package io.senseflow.onnx.ir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.HalfPrecision;
import io.senseflow.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RoundTripTest {

    /** Every tensor type and storage form the IR supports, with awkward values. */
    static List<TensorValue> allKindsOfTensors() {
        ByteBuffer int4 = ByteBuffer.wrap(new byte[] {0x21, 0x43, 0x05}); // 5 nibbles, padded
        return List.of(
                TensorValue.ofFloats("f32", new float[] {1.5f, -0f, Float.NaN, Float.MIN_VALUE, 3e38f, -1e-3f}, 2, 3),
                TensorValue.ofFloats("f32_typed", new float[] {1, 2, 3}, 3).withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofFloat16("f16", new float[] {1f, -2.5f, 65504f, 6e-8f}, 4),
                TensorValue.ofFloat16("f16_typed", new float[] {1f, -2.5f, 65504f, 6e-8f}, 2, 2)
                        .withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofBfloat16("bf16_typed", new float[] {1f, -3.25f, 1e30f}, 3).withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofDoubles("f64", new double[] {Math.PI, -Double.MAX_VALUE}, 2),
                TensorValue.ofDoubles("f64_typed", new double[] {Math.E}).withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofLongs("i64", new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}, 4),
                TensorValue.ofLongs("i64_typed", new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}, 2, 2)
                        .withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofInts("i32_typed", new int[] {Integer.MIN_VALUE, -7, 7}, 3).withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofRaw("i16_typed", DataType.INT16, le(new byte[] {(byte) 0xff, (byte) 0xff, 0x00, (byte) 0x80}), 2)
                        .withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofRaw("u16_typed", DataType.UINT16, le(new byte[] {(byte) 0xff, (byte) 0xff}), 1)
                        .withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofRaw("i8_typed", DataType.INT8, le(new byte[] {-128, -1, 127}), 3).withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofRaw("u8", DataType.UINT8, le(new byte[] {(byte) 255, 0}), 2),
                TensorValue.ofRaw("u32_typed", DataType.UINT32, le(new byte[] {-1, -1, -1, -1}), 1).withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofRaw("u64_typed", DataType.UINT64, le(new byte[] {-1, -1, -1, -1, -1, -1, -1, -1}), 1)
                        .withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofBooleans("bool_typed", new boolean[] {true, false, true}, 3).withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofBooleans("bool", new boolean[] {true, false}, 1, 2),
                TensorValue.ofStrings("strings", List.of("héllo", "", "w"), 3),
                TensorValue.ofRaw("c64_typed", DataType.COMPLEX64, floatsLe(1f, 2f, 3f, 4f), 2).withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofRaw("int4", DataType.INT4, int4, 5),
                TensorValue.ofFloats("scalar", new float[] {42f}),
                TensorValue.ofFloats("empty", new float[0], 0, 3),
                TensorValue.ofFloats("empty_typed", new float[0], 3, 0).withStorage(TensorValue.Storage.TYPED),
                TensorValue.ofFloats("documented", new float[] {1}, 1).withDocString("a weight"));
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static ByteBuffer floatsLe(float... f) {
        ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(f);
        return b;
    }

    /** A model that uses every modelled field at least once. */
    static OnnxModel kitchenSink() {
        GraphBuilder g = GraphBuilder.create("kitchen_sink", 17)
                .producer("test", "1.0")
                .modelVersion("io.senseflow.test", 3)
                .docString("every field")
                .metadata("purpose", "round trip")
                .metadata("ünïcode", "välue");
        String x = g.input("x", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        g.input(ValueInfo.unknownShape("free", DataType.FLOAT));
        g.input("unknown_dim", DataType.INT64, Dim.unknown(), Dim.of(0));
        for (TensorValue t : allKindsOfTensors()) {
            g.initializer(t);
        }
        GraphBuilder then = g.subgraph("then");
        then.output(then.identity(x), DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        GraphBuilder otherwise = g.subgraph("else");
        otherwise.output(otherwise.neg(x), DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        String cond = g.op("Custom").domain("io.senseflow.test").name("every_attribute")
                .input(x, "", "f32")
                .attr("f", 0.5f)
                .attr("i", -3L)
                .attr("zero", 0L)
                .attr("s", "text")
                .attr(OnnxAttribute.ofBytes("raw_bytes", new byte[] {0, (byte) 0xff}))
                .attr("t", TensorValue.ofLongs("tv", new long[] {1, 2}, 2))
                .attr("g", then.buildGraph())
                .floats("fs", 1f, -2f)
                .ints("is", Long.MIN_VALUE, 0, Long.MAX_VALUE)
                .ints("empty_ints")
                .strings("ss", "a", "b")
                .attr(OnnxAttribute.ofTensors("ts", List.of(TensorValue.ofFloats("a", new float[] {1}, 1))))
                .attr(OnnxAttribute.ofGraphs("gs", List.of(otherwise.buildGraph())))
                .outputs("cond", "")[0];
        g.importOpset("io.senseflow.test", 1);
        String y = g.op("If").input(cond).attr("then_branch", then.buildGraph()).attr("else_branch", otherwise.buildGraph())
                .output();
        g.valueInfo(ValueInfo.tensor(cond, DataType.BOOL));
        g.output(y, "y", DataType.FLOAT, Dim.symbolic("batch"), Dim.of(3));
        return g.build();
    }

    @Test
    void writeReadIsEqualAndReserializesByteForByte(@TempDir Path dir) throws Exception {
        OnnxModel model = kitchenSink();
        byte[] bytes = model.toByteArray();
        OnnxModel back = OnnxModel.parse(bytes, "memory");
        assertThat(back).isEqualTo(model);
        assertThat(back.toByteArray()).isEqualTo(bytes);

        Path file = dir.resolve("sink.onnx");
        model.write(file);
        assertThat(Files.readAllBytes(file)).isEqualTo(bytes);
        OnnxModel fromFile = OnnxModel.read(file);
        assertThat(fromFile).isEqualTo(model);
        assertThat(fromFile.metadata()).containsExactly(Map.entry("purpose", "round trip"), Map.entry("ünïcode", "välue"));
        assertThat(fromFile.opsetVersion("")).hasValue(17);
        assertThat(fromFile.opsetVersion("ai.onnx")).hasValue(17);
        assertThat(fromFile.opsetVersion("io.senseflow.test")).hasValue(1);
        assertThat(fromFile.irVersion()).isEqualTo(8);
        assertThat(fromFile.producerName()).isEqualTo("test");
        assertThat(fromFile.modelVersion()).isEqualTo(3);
    }

    @Test
    void everyTensorKindKeepsTypeStorageAndValues() {
        OnnxModel back = OnnxModel.parse(kitchenSink().toByteArray(), "memory");
        for (TensorValue original : allKindsOfTensors()) {
            TensorValue t = back.graph().initializer(original.name()).orElseThrow();
            assertThat(t).as(original.name()).isEqualTo(original);
            assertThat(t.storage()).as(original.name()).isEqualTo(
                    original.elementCount() == 0 && original.storage() == TensorValue.Storage.TYPED
                            ? TensorValue.Storage.TYPED : original.storage());
            assertThat(t.dataType()).isEqualTo(original.dataType());
            assertThat(t.dims()).isEqualTo(original.dims());
        }
        OnnxGraph g = back.graph();
        assertThat(g.initializer("f16_typed").orElseThrow().toFloats()).containsExactly(1f, -2.5f, 65504f,
                HalfPrecision.float16ToFloat(HalfPrecision.floatToFloat16(6e-8f)));
        assertThat(g.initializer("bf16_typed").orElseThrow().toFloats()).containsExactly(1f, -3.25f,
                HalfPrecision.bfloat16ToFloat(HalfPrecision.floatToBfloat16(1e30f)));
        assertThat(g.initializer("i64_typed").orElseThrow().toLongs()).containsExactly(Long.MIN_VALUE, -1, 0, Long.MAX_VALUE);
        assertThat(g.initializer("i32_typed").orElseThrow().toLongs()).containsExactly(Integer.MIN_VALUE, -7, 7);
        assertThat(g.initializer("i16_typed").orElseThrow().toLongs()).containsExactly(-1, Short.MIN_VALUE);
        assertThat(g.initializer("u16_typed").orElseThrow().toLongs()).containsExactly(65535);
        assertThat(g.initializer("i8_typed").orElseThrow().toLongs()).containsExactly(-128, -1, 127);
        assertThat(g.initializer("u8").orElseThrow().toLongs()).containsExactly(255, 0);
        assertThat(g.initializer("u32_typed").orElseThrow().toLongs()).containsExactly(0xffffffffL);
        assertThat(g.initializer("u64_typed").orElseThrow().toLongs()).containsExactly(-1L);
        assertThat(g.initializer("bool_typed").orElseThrow().toLongs()).containsExactly(1, 0, 1);
        assertThat(g.initializer("f64_typed").orElseThrow().toFloats()).containsExactly((float) Math.E);
        assertThat(g.initializer("strings").orElseThrow().strings()).containsExactly("héllo", "", "w");
        assertThat(g.initializer("scalar").orElseThrow().rank()).isZero();
        assertThat(g.initializer("scalar").orElseThrow().elementCount()).isEqualTo(1);
        assertThat(g.initializer("empty").orElseThrow().elementCount()).isZero();
        assertThat(g.initializer("int4").orElseThrow().byteSize()).isEqualTo(3);
        assertThat(g.initializer("documented").orElseThrow().docString()).isEqualTo("a weight");
    }

    @Test
    void attributesKeepTheirTypesAndValues() {
        OnnxGraph g = OnnxModel.parse(kitchenSink().toByteArray(), "memory").graph();
        OnnxNode n = g.nodes().stream().filter(x -> x.name().equals("every_attribute")).findFirst().orElseThrow();
        assertThat(n.domain()).isEqualTo("io.senseflow.test");
        assertThat(n.inputs()).containsExactly("x", "", "f32");
        assertThat(n.outputs()).containsExactly("cond", "");
        assertThat(n.attribute("f").orElseThrow().floatValue()).isEqualTo(0.5f);
        assertThat(n.attribute("i").orElseThrow().intValue()).isEqualTo(-3);
        assertThat(n.attribute("zero").orElseThrow().intValue()).isZero();
        assertThat(n.attribute("s").orElseThrow().stringValue()).isEqualTo("text");
        assertThat(n.attribute("raw_bytes").orElseThrow().bytesValue()).containsExactly(0, 0xff);
        assertThat(n.attribute("t").orElseThrow().tensorValue().toLongs()).containsExactly(1, 2);
        assertThat(n.attribute("g").orElseThrow().graphValue().name()).isEqualTo("then");
        assertThat(n.attribute("fs").orElseThrow().floats()).containsExactly(1f, -2f);
        assertThat(n.attribute("is").orElseThrow().ints()).containsExactly(Long.MIN_VALUE, 0, Long.MAX_VALUE);
        assertThat(n.attribute("empty_ints").orElseThrow().ints()).isEmpty();
        assertThat(n.attribute("empty_ints").orElseThrow().type()).isEqualTo(AttributeType.INTS);
        assertThat(n.attribute("ss").orElseThrow().strings()).containsExactly("a", "b");
        assertThat(n.attribute("ts").orElseThrow().tensors()).hasSize(1);
        assertThat(n.attribute("gs").orElseThrow().graphs().get(0).nodes().get(0).opType()).isEqualTo("Neg");
        assertThat(n.attribute("missing")).isEmpty();
        assertThatThrownBy(() -> n.attribute("f").orElseThrow().intValue())
                .isInstanceOf(InvalidRequestException.class).hasMessage("attribute f is FLOAT, not INT");
    }

    @Test
    void valueInfoShapesKeepSymbolicFixedAndUnknownDims() {
        OnnxGraph g = OnnxModel.parse(kitchenSink().toByteArray(), "memory").graph();
        assertThat(g.inputs().get(0).shape()).containsExactly(Dim.symbolic("batch"), Dim.of(3));
        assertThat(g.inputs().get(1).hasShape()).isFalse();
        assertThat(g.inputs().get(2).shape()).containsExactly(Dim.unknown(), Dim.of(0));
        assertThat(g.inputs().get(2).elementType()).isEqualTo(DataType.INT64);
        assertThat(g.valueInfo().get(0).shape()).isEmpty(); // a scalar, not an unknown rank
    }

    @Test
    void readerAcceptsPackedAndUnpackedRepeatedScalars() {
        Pb unpackedDims = Pb.msg().varint(1, 2).varint(1, 2).varint(2, 1).string(8, "w");
        for (float f : new float[] {1, 2, 3, 4}) {
            unpackedDims.fixed32(4, Float.floatToRawIntBits(f));
        }
        Pb packedDims = Pb.msg().packedVarints(1, 2, 2).varint(2, 1).string(8, "w2").packedFloats(4, 1, 2).packedFloats(4, 3, 4);
        Pb int64Mixed = Pb.msg().varint(1, 3).varint(2, 7).string(8, "i").varint(7, -5).packedVarints(7, 6, 7);
        Pb node = Pb.msg().string(1, "x").string(2, "y").string(4, "Identity")
                .message(5, Pb.msg().string(1, "packed").varint(20, 7).packedVarints(8, 1, -2, 3))
                .message(5, Pb.msg().string(1, "unpacked").varint(20, 7).varint(8, 4).varint(8, 5))
                .message(5, Pb.msg().string(1, "floats_packed").varint(20, 6).packedFloats(7, 0.5f, 1.5f))
                .message(5, Pb.msg().string(1, "floats_unpacked").varint(20, 6).fixed32(7, Float.floatToRawIntBits(2.5f)));
        Pb graph = Pb.msg().message(1, node).message(5, unpackedDims).message(5, packedDims).message(5, int64Mixed)
                .message(11, Pb.valueInfo("x", 1, 2)).message(12, Pb.valueInfo("y", 1, 2));
        OnnxGraph g = OnnxModel.parse(Pb.model(graph), "hand-made").graph();
        assertThat(g.initializer("w").orElseThrow().toFloats()).containsExactly(1, 2, 3, 4);
        assertThat(g.initializer("w").orElseThrow().dims()).containsExactly(2, 2);
        assertThat(g.initializer("w2").orElseThrow()).isEqualTo(g.initializer("w").orElseThrow().withName("w2"));
        assertThat(g.initializer("i").orElseThrow().toLongs()).containsExactly(-5, 6, 7);
        OnnxNode n = g.nodes().get(0);
        assertThat(n.attribute("packed").orElseThrow().ints()).containsExactly(1, -2, 3);
        assertThat(n.attribute("unpacked").orElseThrow().ints()).containsExactly(4, 5);
        assertThat(n.attribute("floats_packed").orElseThrow().floats()).containsExactly(0.5f, 1.5f);
        assertThat(n.attribute("floats_unpacked").orElseThrow().floats()).containsExactly(2.5f);
    }

    @Test
    void attributeTypeIsInferredWhenMissing() {
        Pb node = Pb.msg().string(1, "x").string(2, "y").string(4, "Identity")
                .message(5, Pb.msg().string(1, "old_style").varint(3, 9));
        Pb graph = Pb.msg().message(1, node).message(11, Pb.valueInfo("x", 1, 2)).message(12, Pb.valueInfo("y", 1, 2));
        OnnxAttribute a = OnnxModel.parse(Pb.model(graph), "hand-made").graph().nodes().get(0).attribute("old_style").orElseThrow();
        assertThat(a.type()).isEqualTo(AttributeType.INT);
        assertThat(a.intValue()).isEqualTo(9);
    }

    @Test
    void unknownFieldsSurviveAndAreWrittenBack() {
        Pb denotedType = Pb.msg().message(1, Pb.msg().varint(1, 1)).string(6, "IMAGE");
        Pb node = Pb.msg().string(1, "x").string(2, "y").string(4, "Identity")
                .message(5, Pb.msg().string(1, "ref").varint(3, 0).varint(20, 2).string(21, "outer_attr"))
                .message(9, Pb.msg().string(1, "node_meta").string(2, "v"));
        Pb tensor = Pb.msg().varint(1, 1).varint(2, 1).string(8, "w").bytes(9, new byte[4])
                .message(16, Pb.msg().string(1, "tensor_meta").string(2, "v"));
        Pb graph = Pb.msg().message(1, node).string(2, "g").message(5, tensor)
                .message(11, Pb.msg().string(1, "x").message(2, denotedType).message(4, Pb.msg().string(1, "k")))
                .message(12, Pb.valueInfo("y", 1, 2))
                .message(15, Pb.msg().varint(3, 1)); // a sparse initializer
        byte[] model = Pb.msg().varint(1, 8).message(7, graph).message(8, Pb.msg().varint(2, 17))
                .message(25, Pb.msg().string(1, "local_function")).varint(99, 5).toBytes();
        OnnxModel m = OnnxModel.parse(model, "hand-made");
        assertThat(m.unknownFields().size()).isGreaterThan(0);
        assertThat(m.graph().unknownFields().isEmpty()).isFalse();
        assertThat(m.graph().nodes().get(0).unknownFields().isEmpty()).isFalse();
        assertThat(m.graph().nodes().get(0).attribute("ref").orElseThrow().unknownFields().isEmpty()).isFalse();
        assertThat(m.graph().initializer("w").orElseThrow().unknownFields().isEmpty()).isFalse();
        ValueInfo x = m.graph().inputs().get(0);
        assertThat(x.typeExtras().isEmpty()).isFalse();
        assertThat(x.unknownFields().isEmpty()).isFalse();
        assertThat(x.elementType()).isEqualTo(DataType.FLOAT);
        // written back verbatim: this model's fields are in field-number order, so the bytes match exactly
        assertThat(m.toByteArray()).isEqualTo(model);
        assertThat(OnnxModel.parse(m.toByteArray(), "again")).isEqualTo(m);
    }

    @Test
    void tensorAccessorsConvertAndCheckTypes() {
        TensorValue f16 = TensorValue.ofFloat16("h", new float[] {0.1f, 2f}, 2);
        assertThat(f16.toFloats()).containsExactly(HalfPrecision.float16ToFloat(HalfPrecision.floatToFloat16(0.1f)), 2f);
        assertThat(f16.byteSize()).isEqualTo(4);
        assertThat(f16.bytes().order()).isEqualTo(ByteOrder.LITTLE_ENDIAN);
        assertThat(f16.bytes().isReadOnly()).isTrue();
        assertThatThrownBy(f16::toLongs).isInstanceOf(InvalidRequestException.class).hasMessageContaining("use toFloats()");
        TensorValue ints = TensorValue.ofLongs("n", new long[] {1, 2}, 2);
        assertThatThrownBy(ints::toFloats).isInstanceOf(InvalidRequestException.class).hasMessageContaining("use toLongs()");
        assertThatThrownBy(ints::strings).isInstanceOf(InvalidRequestException.class);
        Tensor t = TensorValue.ofFloats("t", new float[] {1, 2, 3, 4, 5, 6}, 2, 3).toTensor();
        assertThat(t.shape()).containsExactly(2, 3);
        assertThat(t.at(1, 2)).isEqualTo(6f);
        TensorValue fromTensor = TensorValue.of("bf", t, DataType.BFLOAT16);
        assertThat(fromTensor.dataType()).isEqualTo(DataType.BFLOAT16);
        assertThat(fromTensor.toFloats()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThatThrownBy(() -> TensorValue.ofFloats("bad", new float[] {1, 2}, 3))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("3 elements");
        assertThatThrownBy(() -> TensorValue.ofFloats("bad", new float[0], -1))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("non-negative");
        assertThatThrownBy(() -> TensorValue.ofRaw("bad", DataType.FLOAT, ByteBuffer.allocate(3), 1))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("4 bytes");
        assertThatThrownBy(() -> ints.withStorage(TensorValue.Storage.EXTERNAL)).isInstanceOf(InvalidRequestException.class);
        assertThat(ints.withStorage(TensorValue.Storage.TYPED)).isEqualTo(ints); // storage is not content
    }

    @Test
    void graphHelpersFindAndReplace() {
        OnnxGraph g = kitchenSink().graph();
        assertThat(g.opTypeCounts()).containsEntry("If", 1).containsEntry("Custom", 1).containsEntry("Identity", 1);
        assertThat(g.nodes("If")).hasSize(1);
        TensorValue replacement = TensorValue.ofFloats("scalar", new float[] {7f});
        OnnxGraph swapped = g.withInitializer(replacement);
        assertThat(swapped.initializer("scalar").orElseThrow().toFloats()).containsExactly(7f);
        assertThat(swapped).isNotEqualTo(g);
        assertThatThrownBy(() -> g.withInitializer(TensorValue.ofFloats("nope", new float[] {1})))
                .isInstanceOf(InvalidRequestException.class).hasMessageContaining("nope");
    }
}
