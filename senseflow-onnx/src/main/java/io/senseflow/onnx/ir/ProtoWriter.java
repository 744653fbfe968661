package io.senseflow.onnx.ir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes the protobuf wire format into a rope of segments. Small fields are packed into blocks; large byte
 * payloads (tensor data) and large nested messages are referenced, not copied, so a weight tensor is copied
 * exactly once: into the file. A nested message is written into its own writer first, which gives its length
 * prefix without a separate size pass.
 */
final class ProtoWriter {
    /** Payloads at least this large are referenced instead of copied. */
    private static final int REFERENCE_THRESHOLD = 4096;
    private static final int BLOCK = 8192;

    private final List<ByteBuffer> segments = new ArrayList<>();
    private byte[] block = new byte[256];
    private int blockStart;
    private int blockPos;
    private long size;

    long size() {
        return size;
    }

    void tag(int field, int wireType) {
        varint(((long) field << 3) | wireType);
    }

    void varint(long v) {
        ensure(10);
        while ((v & ~0x7fL) != 0) {
            block[blockPos++] = (byte) ((v & 0x7f) | 0x80);
            v >>>= 7;
        }
        block[blockPos++] = (byte) v;
        commitSize();
    }

    void fixed32(int v) {
        ensure(4);
        block[blockPos++] = (byte) v;
        block[blockPos++] = (byte) (v >>> 8);
        block[blockPos++] = (byte) (v >>> 16);
        block[blockPos++] = (byte) (v >>> 24);
        commitSize();
    }

    void fixed64(long v) {
        fixed32((int) v);
        fixed32((int) (v >>> 32));
    }

    void raw(byte[] bytes) {
        raw(ByteBuffer.wrap(bytes));
    }

    /** Appends bytes: copied when small, referenced (the caller must not change them) when large. */
    void raw(ByteBuffer bytes) {
        int n = bytes.remaining();
        if (n >= REFERENCE_THRESHOLD) {
            flushBlock();
            segments.add(bytes.duplicate());
            size += n;
            return;
        }
        ensure(n);
        bytes.duplicate().get(block, blockPos, n);
        blockPos += n;
        commitSize();
    }

    // ---------------------------------------------------------------- fields

    void varintField(int field, long v) {
        tag(field, ProtoReader.VARINT);
        varint(v);
    }

    void fixed32Field(int field, int v) {
        tag(field, ProtoReader.FIXED32);
        fixed32(v);
    }

    void bytesField(int field, ByteBuffer bytes) {
        tag(field, ProtoReader.LEN);
        varint(bytes.remaining());
        raw(bytes);
    }

    void bytesField(int field, byte[] bytes) {
        bytesField(field, ByteBuffer.wrap(bytes));
    }

    void stringField(int field, String s) {
        bytesField(field, s.getBytes(StandardCharsets.UTF_8));
    }

    /** Writes a string field only when it is not empty (proto3 default). */
    void stringFieldIfSet(int field, String s) {
        if (!s.isEmpty()) {
            stringField(field, s);
        }
    }

    void messageField(int field, ProtoWriter child) {
        tag(field, ProtoReader.LEN);
        varint(child.size);
        append(child);
    }

    /** Appends another writer's bytes. */
    void append(ProtoWriter other) {
        other.flushBlock();
        if (other.size < REFERENCE_THRESHOLD) {
            ensure((int) other.size);
            for (ByteBuffer s : other.segments) {
                int n = s.remaining();
                s.duplicate().get(block, blockPos, n);
                blockPos += n;
            }
            commitSize();
            return;
        }
        flushBlock();
        for (ByteBuffer s : other.segments) {
            segments.add(s.duplicate());
        }
        size += other.size;
    }

    // ---------------------------------------------------------------- output

    void writeTo(WritableByteChannel channel) throws IOException {
        flushBlock();
        for (ByteBuffer s : segments) {
            ByteBuffer b = s.duplicate();
            while (b.hasRemaining()) {
                channel.write(b);
            }
        }
    }

    byte[] toByteArray() {
        flushBlock();
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("message of " + size + " bytes does not fit in a Java array");
        }
        byte[] out = new byte[(int) size];
        int p = 0;
        for (ByteBuffer s : segments) {
            int n = s.remaining();
            s.duplicate().get(out, p, n);
            p += n;
        }
        return out;
    }

    // ---------------------------------------------------------------- blocks

    private int committed; // bytes of the current block already counted in size

    private void commitSize() {
        size += blockPos - blockStart - committed;
        committed = blockPos - blockStart;
    }

    private void ensure(int n) {
        if (block.length - blockPos >= n) {
            return;
        }
        flushBlock();
        int capacity = Math.max(n, Math.min(BLOCK, Math.max(256, block.length * 2)));
        block = new byte[capacity];
        blockStart = 0;
        blockPos = 0;
    }

    private void flushBlock() {
        commitSize();
        if (blockPos > blockStart) {
            segments.add(ByteBuffer.wrap(block, blockStart, blockPos - blockStart).slice());
        }
        blockStart = blockPos;
        committed = 0;
    }
}
