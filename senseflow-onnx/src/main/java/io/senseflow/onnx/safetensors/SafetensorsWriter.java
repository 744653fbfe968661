package io.senseflow.onnx.safetensors;

import io.senseflow.InvalidRequestException;
import io.senseflow.io.AtomicFiles;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.json.Json;
import io.senseflow.tensor.HalfPrecision;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * Collects tensors and writes a safetensors file.
 *
 * <p>The output is deterministic: tensors sorted by name (UTF-8 byte order) and stored contiguously in that
 * order, {@code __metadata__} first with its keys sorted, compact JSON, and the header padded with spaces to a
 * multiple of 8 bytes as the reference implementation does. Files are written atomically. Payloads are held in
 * memory (as little-endian bytes) until {@link #write(Path)}.
 *
 * <p>Not thread-safe: fill and write it from one thread.
 */
public final class SafetensorsWriter {
    private final Map<String, Entry> tensors = new HashMap<>();
    private final Map<String, String> metadata = new TreeMap<>();

    private record Entry(String name, SafetensorsDtype dtype, long[] shape, ByteBuffer data) {
    }

    /** Creates an empty writer. */
    public SafetensorsWriter() {
    }

    /**
     * @param name tensor name
     * @param values elements in row-major order
     * @param shape dimensions (none for a scalar)
     * @return this writer
     */
    public SafetensorsWriter addFloats(String name, float[] values, long... shape) {
        ByteBuffer b = allocate(name, values.length, 4, shape);
        b.asFloatBuffer().put(values);
        return put(name, SafetensorsDtype.F32, shape, b);
    }

    /**
     * @param name tensor name
     * @param values elements, rounded to half precision (nearest, ties to even)
     * @param shape dimensions
     * @return this writer
     */
    public SafetensorsWriter addFloat16(String name, float[] values, long... shape) {
        ByteBuffer b = allocate(name, values.length, 2, shape);
        b.asShortBuffer().put(HalfPrecision.floatToFloat16(values));
        return put(name, SafetensorsDtype.F16, shape, b);
    }

    /**
     * @param name tensor name
     * @param values elements, rounded to bfloat16 (nearest, ties to even)
     * @param shape dimensions
     * @return this writer
     */
    public SafetensorsWriter addBfloat16(String name, float[] values, long... shape) {
        ByteBuffer b = allocate(name, values.length, 2, shape);
        b.asShortBuffer().put(HalfPrecision.floatToBfloat16(values));
        return put(name, SafetensorsDtype.BF16, shape, b);
    }

    /**
     * @param name tensor name
     * @param values elements
     * @param shape dimensions
     * @return this writer
     */
    public SafetensorsWriter addDoubles(String name, double[] values, long... shape) {
        ByteBuffer b = allocate(name, values.length, 8, shape);
        b.asDoubleBuffer().put(values);
        return put(name, SafetensorsDtype.F64, shape, b);
    }

    /**
     * @param name tensor name
     * @param values elements
     * @param shape dimensions
     * @return this writer
     */
    public SafetensorsWriter addLongs(String name, long[] values, long... shape) {
        ByteBuffer b = allocate(name, values.length, 8, shape);
        b.asLongBuffer().put(values);
        return put(name, SafetensorsDtype.I64, shape, b);
    }

    /**
     * @param name tensor name
     * @param values elements
     * @param shape dimensions
     * @return this writer
     */
    public SafetensorsWriter addInts(String name, int[] values, long... shape) {
        ByteBuffer b = allocate(name, values.length, 4, shape);
        b.asIntBuffer().put(values);
        return put(name, SafetensorsDtype.I32, shape, b);
    }

    /**
     * @param name tensor name
     * @param tensor values and shape, stored as F32
     * @return this writer
     */
    public SafetensorsWriter add(String name, Tensor tensor) {
        return add(name, tensor, SafetensorsDtype.F32);
    }

    /**
     * @param name tensor name
     * @param tensor values and shape
     * @param dtype F32, F16, BF16 or F64
     * @return this writer
     */
    public SafetensorsWriter add(String name, Tensor tensor, SafetensorsDtype dtype) {
        long[] shape = Arrays.stream(tensor.shape()).asLongStream().toArray();
        float[] v = tensor.toArray();
        return switch (dtype) {
            case F32 -> addFloats(name, v, shape);
            case F16 -> addFloat16(name, v, shape);
            case BF16 -> addBfloat16(name, v, shape);
            case F64 -> {
                double[] d = new double[v.length];
                for (int i = 0; i < v.length; i++) {
                    d[i] = v[i];
                }
                yield addDoubles(name, d, shape);
            }
            default -> throw InvalidRequestException.of("dtype for tensor " + name, "F32, F16, BF16 or F64", dtype);
        };
    }

    /**
     * Adds an ONNX tensor (an initializer, for example) under its own name, with the matching dtype.
     *
     * @param tensor the tensor; its type must have a safetensors equivalent
     * @return this writer
     */
    public SafetensorsWriter add(TensorValue tensor) {
        SafetensorsDtype dtype = SafetensorsDtype.fromOnnx(tensor.dataType());
        if (dtype == null) {
            throw InvalidRequestException.of("tensor " + tensor.name() + " type", "a type safetensors can store",
                    tensor.dataType());
        }
        return addRaw(tensor.name(), dtype, tensor.bytes(), tensor.dims());
    }

    /**
     * Adds little-endian bytes without conversion. The buffer is referenced, not copied: do not change it before
     * {@link #write(Path)}.
     *
     * @param name tensor name
     * @param dtype element type
     * @param littleEndian the payload, from position to limit
     * @param shape dimensions
     * @return this writer
     */
    public SafetensorsWriter addRaw(String name, SafetensorsDtype dtype, ByteBuffer littleEndian, long... shape) {
        Objects.requireNonNull(dtype, "dtype");
        long count = count(name, shape);
        long bytes = count * dtype.byteSize();
        if (littleEndian.remaining() != bytes) {
            throw InvalidRequestException.of("tensor " + name + " payload", bytes + " bytes for " + dtype + " "
                    + Arrays.toString(shape), littleEndian.remaining() + " bytes");
        }
        return put(name, dtype, shape, littleEndian.slice());
    }

    /**
     * @param key metadata key
     * @param value its value
     * @return this writer
     */
    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
        return this;
    }

    /** @return the number of tensors added */
    public int size() {
        return tensors.size();
    }

    /**
     * Writes the file atomically.
     *
     * @param path the destination
     * @throws io.senseflow.CheckpointException if writing fails
     */
    public void write(Path path) {
        Layout layout = layout();
        AtomicFiles.write(path, ch -> layout.writeTo(ch));
    }

    /**
     * @return the file's bytes
     * @throws InvalidRequestException if they exceed 2 GiB (write to a file instead)
     */
    public byte[] toByteArray() {
        Layout layout = layout();
        if (layout.total > Integer.MAX_VALUE - 8) {
            throw new InvalidRequestException("safetensors content of " + layout.total + " bytes does not fit a byte array; use write(path)");
        }
        ByteBuffer out = ByteBuffer.allocate((int) layout.total);
        out.put(layout.prefix.duplicate());
        for (Entry e : layout.order) {
            out.put(e.data.duplicate());
        }
        return out.array();
    }

    // ---------------------------------------------------------------- layout

    private record Layout(ByteBuffer prefix, List<Entry> order, long total) {
        void writeTo(FileChannel ch) throws IOException {
            writeFully(ch, prefix.duplicate());
            for (Entry e : order) {
                writeFully(ch, e.data.duplicate());
            }
        }
    }

    private Layout layout() {
        List<Entry> order = new ArrayList<>(tensors.values());
        order.sort((a, b) -> Arrays.compareUnsigned(utf8(a.name), utf8(b.name)));
        Map<String, Object> header = new LinkedHashMap<>();
        if (!metadata.isEmpty()) {
            header.put("__metadata__", new LinkedHashMap<>(metadata));
        }
        long offset = 0;
        for (Entry e : order) {
            long end = offset + e.data.remaining();
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("dtype", e.dtype.name());
            t.put("shape", e.shape.clone());
            t.put("data_offsets", new long[] {offset, end});
            header.put(e.name, t);
            offset = end;
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(json);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        prefix.flip();
        return new Layout(prefix, order, 8L + padded + offset);
    }

    // ---------------------------------------------------------------- helpers

    private SafetensorsWriter put(String name, SafetensorsDtype dtype, long[] shape, ByteBuffer data) {
        if (name.equals("__metadata__")) {
            throw new InvalidRequestException("tensor name \"__metadata__\" is reserved for the metadata map");
        }
        if (tensors.containsKey(name)) {
            throw new InvalidRequestException("tensor \"" + name + "\" was already added");
        }
        tensors.put(name, new Entry(name, dtype, shape.clone(), data.asReadOnlyBuffer()));
        return this;
    }

    private static ByteBuffer allocate(String name, int values, int width, long[] shape) {
        long count = count(name, shape);
        if (count != values) {
            throw InvalidRequestException.of("tensor " + name + " values", count + " elements for shape "
                    + Arrays.toString(shape), values + " elements");
        }
        if (count * width > Integer.MAX_VALUE - 8) {
            throw InvalidRequestException.of("tensor " + name + " size", "under 2 GiB", count * width + " bytes");
        }
        return ByteBuffer.allocate((int) (count * width)).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static long count(String name, long[] shape) {
        Objects.requireNonNull(name, "name");
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw InvalidRequestException.of("tensor " + name + " shape", "non-negative dimensions", Arrays.toString(shape));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw InvalidRequestException.of("tensor " + name + " shape", "an element count that fits a long",
                        Arrays.toString(shape));
            }
        }
        return n;
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
