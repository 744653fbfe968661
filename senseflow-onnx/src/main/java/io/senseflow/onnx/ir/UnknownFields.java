package io.senseflow.onnx.ir;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;

/**
 * Fields of an ONNX message that this SDK does not model (for example model-local functions, sparse
 * initializers or node metadata), kept as their original encoded bytes. The writer emits them unchanged after the
 * modelled fields, so reading and writing a model does not drop information.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class UnknownFields {
    /** No unknown fields. */
    public static final UnknownFields EMPTY = new UnknownFields(new byte[0]);

    private final byte[] bytes;

    private UnknownFields(byte[] bytes) {
        this.bytes = bytes;
    }

    static UnknownFields of(byte[] encoded) {
        return encoded.length == 0 ? EMPTY : new UnknownFields(encoded);
    }

    /** @return whether there are none */
    public boolean isEmpty() {
        return bytes.length == 0;
    }

    /** @return the encoded size in bytes */
    public int size() {
        return bytes.length;
    }

    /** @return a copy of the encoded fields (tags included) */
    public byte[] toByteArray() {
        return bytes.clone();
    }

    byte[] bytes() {
        return bytes;
    }

    @Override
    public boolean equals(Object o) {
        return o == this || (o instanceof UnknownFields u && Arrays.equals(bytes, u.bytes));
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public String toString() {
        return bytes.length == 0 ? "UnknownFields[]" : "UnknownFields[" + bytes.length + " bytes]";
    }

    /** Collects the raw bytes of unknown fields while a message is parsed. */
    static final class Collector {
        private ByteArrayOutputStream out;

        /** Copies the field that {@code reader} just skipped (from its tag to the current position). */
        void add(ProtoReader reader) {
            if (out == null) {
                out = new ByteArrayOutputStream();
            }
            out.write(reader.buffer(), reader.tagStart(), reader.position() - reader.tagStart());
        }

        UnknownFields build() {
            return out == null ? EMPTY : of(out.toByteArray());
        }
    }
}
