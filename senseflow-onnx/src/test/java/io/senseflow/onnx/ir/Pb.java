package io.senseflow.onnx.ir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A tiny protobuf encoder for hand-made test inputs, written independently of the main codec so the reader is not
 * only tested against its own writer. Fields are appended in call order; anything (even invalid) can be written.
 */
final class Pb {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    static Pb msg() {
        return new Pb();
    }

    Pb rawVarint(long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
        return this;
    }

    Pb tag(int field, int wire) {
        return rawVarint(((long) field << 3) | wire);
    }

    Pb varint(int field, long v) {
        return tag(field, 0).rawVarint(v);
    }

    Pb fixed32(int field, int v) {
        tag(field, 5);
        for (int i = 0; i < 4; i++) {
            out.write(v >>> (8 * i));
        }
        return this;
    }

    Pb fixed64(int field, long v) {
        tag(field, 1);
        for (int i = 0; i < 8; i++) {
            out.write((int) (v >>> (8 * i)));
        }
        return this;
    }

    Pb bytes(int field, byte[] b) {
        tag(field, 2).rawVarint(b.length);
        out.write(b, 0, b.length);
        return this;
    }

    Pb string(int field, String s) {
        return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    Pb message(int field, Pb m) {
        return bytes(field, m.toBytes());
    }

    Pb packedVarints(int field, long... values) {
        Pb p = msg();
        for (long v : values) {
            p.rawVarint(v);
        }
        return bytes(field, p.toBytes());
    }

    Pb packedFloats(int field, float... values) {
        Pb p = msg();
        for (float f : values) {
            int v = Float.floatToRawIntBits(f);
            for (int i = 0; i < 4; i++) {
                p.out.write(v >>> (8 * i));
            }
        }
        return bytes(field, p.toBytes());
    }

    Pb raw(byte... b) {
        out.write(b, 0, b.length);
        return this;
    }

    byte[] toBytes() {
        return out.toByteArray();
    }

    // ---------------------------------------------------------------- ONNX shapes

    /** A minimal valid model around a graph: ir_version 8, the graph, opset 17. */
    static byte[] model(Pb graph) {
        return msg().varint(1, 8).message(7, graph).message(8, msg().varint(2, 17)).toBytes();
    }

    /** A graph with one Identity node from input x to output y, plus whatever {@code extra} adds. */
    static Pb identityGraph() {
        return msg()
                .message(1, msg().string(1, "x").string(2, "y").string(4, "Identity"))
                .string(2, "g")
                .message(11, valueInfo("x", 1, 2))
                .message(12, valueInfo("y", 1, 2));
    }

    static Pb valueInfo(String name, int elemType, long... dims) {
        Pb shape = msg();
        for (long d : dims) {
            shape.message(1, msg().varint(1, d));
        }
        return msg().string(1, name).message(2, msg().message(1, msg().varint(1, elemType).message(2, shape)));
    }
}
