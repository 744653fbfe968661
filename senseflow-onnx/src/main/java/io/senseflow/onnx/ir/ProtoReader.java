package io.senseflow.onnx.ir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Reads the protobuf wire format from a region of a byte array. Every read is bounds-checked against the region,
 * so a corrupt length or varint ends in a {@link WireFormatException}, never an index error or a huge
 * allocation: nothing is allocated that is larger than the bytes it is read from.
 */
final class ProtoReader {
    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LEN = 2;
    static final int START_GROUP = 3;
    static final int END_GROUP = 4;
    static final int FIXED32 = 5;

    private final byte[] buf;
    private final int limit;
    private int pos;
    private int tagStart;

    ProtoReader(byte[] buf, int offset, int length) {
        this.buf = buf;
        this.pos = offset;
        this.limit = offset + length;
    }

    boolean hasRemaining() {
        return pos < limit;
    }

    int position() {
        return pos;
    }

    /** @return the absolute offset of the last tag read, for messages and for copying unknown fields */
    int tagStart() {
        return tagStart;
    }

    byte[] buffer() {
        return buf;
    }

    /** Reads a field tag and checks the field number and wire type are possible at all. */
    int readTag() {
        tagStart = pos;
        long tag = readVarint();
        if (tag >>> 32 != 0) {
            throw error(tagStart, "field tag " + Long.toUnsignedString(tag) + " is out of range");
        }
        int t = (int) tag;
        int wire = t & 7;
        if ((t >>> 3) == 0) {
            throw error(tagStart, "field number 0 is invalid");
        }
        if (wire == START_GROUP || wire == END_GROUP) {
            throw error(tagStart, "field " + (t >>> 3) + " uses the deprecated group encoding, which ONNX never uses");
        }
        if (wire > FIXED32) {
            throw error(tagStart, "field " + (t >>> 3) + " has invalid wire type " + wire);
        }
        return t;
    }

    long readVarint() {
        int start = pos;
        long result = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos >= limit) {
                throw error(start, "varint runs past the end of its message");
            }
            byte b = buf[pos++];
            if (shift == 63 && (b & 0xfe) != 0) {
                throw error(start, "varint is longer than 64 bits");
            }
            result |= (long) (b & 0x7f) << shift;
            if (b >= 0) {
                return result;
            }
        }
        throw error(start, "varint is longer than 10 bytes");
    }

    int readFixed32() {
        need(4, "fixed32 value");
        int v = (buf[pos] & 0xff) | (buf[pos + 1] & 0xff) << 8 | (buf[pos + 2] & 0xff) << 16 | (buf[pos + 3] & 0xff) << 24;
        pos += 4;
        return v;
    }

    long readFixed64() {
        need(8, "fixed64 value");
        long lo = readFixed32() & 0xffffffffL;
        long hi = readFixed32() & 0xffffffffL;
        return lo | hi << 32;
    }

    /** Reads a length prefix and checks the bytes it announces are present. */
    int readLength() {
        int start = pos;
        long len = readVarint();
        if (len < 0 || len > limit - pos) {
            throw error(start, "length " + Long.toUnsignedString(len) + " runs past the end of its message ("
                    + (limit - pos) + " bytes left)");
        }
        return (int) len;
    }

    /** Reads a length-delimited field as a reader over exactly its bytes, and skips past them. */
    ProtoReader readMessage() {
        int len = readLength();
        ProtoReader sub = new ProtoReader(buf, pos, len);
        pos += len;
        return sub;
    }

    /** Reads a length-delimited field as a read-only little-endian view of the input, without copying. */
    ByteBuffer readBytesView() {
        int len = readLength();
        ByteBuffer view = ByteBuffer.wrap(buf, pos, len).slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        pos += len;
        return view;
    }

    byte[] readBytes() {
        int len = readLength();
        byte[] out = new byte[len];
        System.arraycopy(buf, pos, out, 0, len);
        pos += len;
        return out;
    }

    String readString() {
        int start = pos;
        int len = readLength();
        boolean ascii = true;
        for (int i = pos; i < pos + len && ascii; i++) {
            ascii = buf[i] >= 0;
        }
        if (ascii) { // names are almost always ASCII: skip the decoder
            String s = new String(buf, pos, len, StandardCharsets.US_ASCII);
            pos += len;
            return s;
        }
        try {
            String s = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(buf, pos, len)).toString();
            pos += len;
            return s;
        } catch (CharacterCodingException e) {
            throw error(start, "string is not valid UTF-8");
        }
    }

    /** Advances past {@code n} bytes already checked by {@link #readLength()}. */
    void skipBytes(int n) {
        need(n, "bytes");
        pos += n;
    }

    /** Skips the value of a field whose tag was just read. */
    void skip(int wireType) {
        switch (wireType) {
            case VARINT -> readVarint();
            case FIXED64 -> {
                need(8, "fixed64 value");
                pos += 8;
            }
            case FIXED32 -> {
                need(4, "fixed32 value");
                pos += 4;
            }
            case LEN -> {
                int len = readLength(); // not "pos += readLength()": that would read pos before the call moves it
                pos += len;
            }
            default -> throw error(tagStart, "cannot skip wire type " + wireType);
        }
    }

    private void need(int n, String what) {
        if (limit - pos < n) {
            throw error(pos, what + " runs past the end of its message");
        }
    }

    static WireFormatException error(int offset, String message) {
        return new WireFormatException("at byte " + offset + ": " + message);
    }
}
