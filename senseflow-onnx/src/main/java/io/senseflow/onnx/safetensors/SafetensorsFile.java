package io.senseflow.onnx.safetensors;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.json.Json;
import io.senseflow.json.JsonException;
import io.senseflow.json.JsonObject;
import io.senseflow.tensor.HalfPrecision;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A safetensors file opened for reading: an 8-byte little-endian header length, a JSON header mapping tensor names
 * to {@code {dtype, shape, data_offsets}} (plus an optional {@code __metadata__} string map), then the data.
 *
 * <p>{@link #open(Path)} validates the whole header before returning: the header length against the file size,
 * known dtypes, non-negative shapes whose byte size (computed without overflow) equals the data range, ranges inside
 * the data section that cover it exactly once without gaps or overlaps (as the reference implementation requires),
 * unique names. Errors are {@link ModelLoadException}s naming the file and the tensor.
 *
 * <p>The data is memory-mapped lazily in chunks of at most 1 GiB, because one Java mapping cannot exceed 2 GiB;
 * files of any size work as long as a single tensor is below 2 GiB. A tensor inside one chunk is returned as a view
 * of the mapping; one that straddles two chunks is copied. Buffers handed out stay valid after {@link #close()}.
 * Instances are safe for concurrent reads.
 *
 * <p>Reads are safe from several threads at once (each gets its own view of the mapped file); do not close it while
 * another thread still reads.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Chunk size of the mappings. */
    static final long DEFAULT_CHUNK_SIZE = 1L << 30;
    /** The largest header accepted, as in the reference implementation (100 MB). */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    private static final long MAX_BUFFER = Integer.MAX_VALUE - 8;
    private static final String METADATA_KEY = "__metadata__";

    private final Path path;
    private final FileChannel channel;
    private final long fileSize;
    private final long dataStart;
    private final long chunkSize;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private final MappedByteBuffer[] chunks;
    private volatile boolean closed;

    private SafetensorsFile(Path path, FileChannel channel, long fileSize, long dataStart, long chunkSize,
                            Map<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.fileSize = fileSize;
        this.dataStart = dataStart;
        this.chunkSize = chunkSize;
        this.tensors = tensors;
        this.metadata = metadata;
        this.chunks = new MappedByteBuffer[(int) ((fileSize + chunkSize - 1) / chunkSize)];
    }

    /**
     * Opens and validates a safetensors file.
     *
     * @param path the file
     * @return the open file; close it when done
     * @throws ModelLoadException if the file is missing or its header is malformed or inconsistent
     */
    public static SafetensorsFile open(Path path) {
        return open(path, DEFAULT_CHUNK_SIZE);
    }

    /** Opens with a given mapping chunk size (tests use small ones to exercise chunk boundaries). */
    static SafetensorsFile open(Path path, long chunkSize) {
        if (chunkSize < 1 || chunkSize > MAX_BUFFER) {
            throw InvalidRequestException.of("chunkSize", "in [1, " + MAX_BUFFER + "]", chunkSize);
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new ModelLoadException("safetensors file " + path + " does not exist");
        } catch (IOException e) {
            throw new ModelLoadException("cannot open safetensors file " + path + ": " + e, e);
        }
        try {
            long size = ch.size();
            if (size < 8) {
                throw fail(path, "file has " + size + " bytes, too short for the 8-byte header length");
            }
            ByteBuffer lenBuf = readFully(ch, 0, 8, path);
            long headerLen = lenBuf.order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            if (headerLen < 0 || headerLen > MAX_HEADER_BYTES) {
                throw fail(path, "header length " + Long.toUnsignedString(headerLen) + " is over the " + MAX_HEADER_BYTES
                        + "-byte limit; this is not a safetensors file or it is corrupt");
            }
            if (headerLen > size - 8) {
                throw fail(path, "header length " + headerLen + " runs past the end of the file (" + size + " bytes)");
            }
            if (headerLen < 2) {
                throw fail(path, "header length " + headerLen + " is too short for a JSON object");
            }
            if ((size + chunkSize - 1) / chunkSize > Integer.MAX_VALUE - 8) {
                throw InvalidRequestException.of("chunkSize", "large enough for " + size + " bytes", chunkSize);
            }
            ByteBuffer header = readFully(ch, 8, (int) headerLen, path);
            Map<String, String> metadata = new LinkedHashMap<>();
            Map<String, TensorInfo> tensors = parseHeader(path, header, size - 8 - headerLen, metadata);
            return new SafetensorsFile(path, ch, size, 8 + headerLen, chunkSize, tensors,
                    Collections.unmodifiableMap(metadata));
        } catch (IOException e) {
            closeQuietly(ch);
            throw new ModelLoadException("cannot read safetensors file " + path + ": " + e, e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static Map<String, TensorInfo> parseHeader(Path path, ByteBuffer header, long dataSize,
                                                       Map<String, String> metadata) {
        Object root;
        try {
            root = Json.parse(Json.decodeUtf8(header));
        } catch (JsonException e) {
            throw fail(path, "header is not valid JSON: " + e.getMessage());
        }
        if (!(root instanceof Map<?, ?> obj)) {
            throw fail(path, "header must be a JSON object, got " + Json.kind(root));
        }
        Map<String, TensorInfo> tensors = new TreeMap<>();
        for (Map.Entry<String, Object> e : Json.members(obj).entrySet()) {
            String name = e.getKey();
            if (name.equals(METADATA_KEY)) {
                readMetadata(path, e.getValue(), metadata);
                continue;
            }
            tensors.put(name, entry(path, name, e.getValue(), dataSize));
        }
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        TensorInfo previous = null;
        for (TensorInfo t : byOffset) {
            if (t.begin() < expected) {
                throw fail(path, "tensor \"" + t.name() + "\" bytes [" + t.begin() + ", " + t.end() + ") overlap tensor \""
                        + previous.name() + "\" [" + previous.begin() + ", " + previous.end() + ")");
            }
            if (t.begin() > expected) {
                throw fail(path, "tensor \"" + t.name() + "\" starts at " + t.begin() + ", leaving a gap of "
                        + (t.begin() - expected) + " unused bytes before it");
            }
            expected = t.end();
            previous = t;
        }
        if (expected != dataSize) {
            throw fail(path, "the data section has " + dataSize + " bytes but the tensors cover " + expected
                    + "; the file is truncated or has trailing bytes");
        }
        return Collections.unmodifiableMap(tensors);
    }

    private static void readMetadata(Path path, Object value, Map<String, String> into) {
        if (!(value instanceof Map<?, ?> m)) {
            throw fail(path, "\"" + METADATA_KEY + "\" must be an object of strings, got " + Json.kind(value));
        }
        for (Map.Entry<String, Object> e : Json.members(m).entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw fail(path, "\"" + METADATA_KEY + "\" entry \"" + e.getKey() + "\" must be a string, got "
                        + Json.kind(e.getValue()));
            }
            into.put(e.getKey(), s);
        }
    }

    private static TensorInfo entry(Path path, String name, Object value, long dataSize) {
        String label = "tensor \"" + name + "\"";
        if (!(value instanceof Map<?, ?> map)) {
            throw fail(path, label + " must be an object with dtype, shape and data_offsets, got " + Json.kind(value));
        }
        JsonObject o = JsonObject.of(Json.members(map));
        SafetensorsDtype dtype;
        long[] shape;
        long[] offsets;
        try {
            String dtypeName = o.getString("dtype");
            dtype = SafetensorsDtype.fromName(dtypeName);
            if (dtype == null) {
                throw fail(path, label + " has unknown dtype \"" + dtypeName + "\"");
            }
            shape = o.getLongArray("shape");
            offsets = o.getLongArray("data_offsets");
            if (offsets.length != 2) {
                throw fail(path, label + " data_offsets must be [begin, end], got " + offsets.length + " numbers");
            }
        } catch (JsonException e) {
            throw fail(path, label + ": " + e.getMessage());
        }
        long count = 1;
        for (long d : shape) {
            if (d < 0) {
                throw fail(path, label + " has a negative dimension in shape " + Arrays.toString(shape));
            }
            try {
                count = Math.multiplyExact(count, d);
            } catch (ArithmeticException e) {
                throw fail(path, label + " shape " + Arrays.toString(shape) + " overflows the element count");
            }
        }
        long begin = offsets[0];
        long end = offsets[1];
        if (begin < 0 || end < begin) {
            throw fail(path, label + " has data_offsets [" + begin + ", " + end + "]; expected 0 <= begin <= end");
        }
        if (end > dataSize) {
            throw fail(path, label + " data ends at " + end + ", past the end of the data section (" + dataSize + " bytes)");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(count, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw fail(path, label + " shape " + Arrays.toString(shape) + " overflows the byte size");
        }
        if (bytes != end - begin) {
            throw fail(path, label + " is " + dtype + " " + Arrays.toString(shape) + " = " + bytes
                    + " bytes, but its data_offsets span " + (end - begin) + " bytes");
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    // ---------------------------------------------------------------- header accessors

    /** @return the file */
    public Path path() {
        return path;
    }

    /** @return the tensor names, sorted */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }

    /** @param name a tensor name @return whether the file holds it */
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /**
     * @param name a tensor name
     * @return its header entry
     * @throws InvalidRequestException if there is no such tensor
     */
    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new InvalidRequestException(path + " has no tensor named \"" + name + "\""
                    + (tensors.size() <= 20 ? "; it has " + tensors.keySet() : " (" + tensors.size() + " tensors)"));
        }
        return t;
    }

    /** @param name a tensor name @return its element type */
    public SafetensorsDtype dtype(String name) {
        return info(name).dtype();
    }

    /** @param name a tensor name @return a copy of its shape */
    public long[] shape(String name) {
        return info(name).shape();
    }

    /** @return the {@code __metadata__} map, empty when absent */
    public Map<String, String> metadata() {
        return metadata;
    }

    // ---------------------------------------------------------------- data

    /**
     * @param name a tensor name
     * @return its bytes, read-only, little-endian
     * @throws ModelLoadException if the tensor is 2 GiB or larger or the file cannot be mapped
     */
    public ByteBuffer bytes(String name) {
        TensorInfo t = info(name);
        if (t.byteSize() > MAX_BUFFER) {
            throw new ModelLoadException(path + ": tensor \"" + name + "\" has " + t.byteSize()
                    + " bytes; a single tensor over 2 GiB cannot be held in one Java buffer");
        }
        return region(dataStart + t.begin(), (int) t.byteSize());
    }

    /**
     * The elements as floats: F32 as is, F16 and BF16 converted exactly, F64 rounded.
     *
     * @param name a tensor name
     * @return a new array
     * @throws InvalidRequestException for other dtypes (integers: use {@link #longs(String)})
     */
    public float[] floats(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isFloatingPoint()) {
            throw new InvalidRequestException(path + ": tensor \"" + name + "\" is " + t.dtype()
                    + "; floats() reads F32, F16, BF16 and F64" + (t.dtype().isIntegral() ? " (use longs())" : ""));
        }
        ByteBuffer b = bytes(name);
        int n = (int) t.elementCount();
        float[] out = new float[n];
        switch (t.dtype()) {
            case F32 -> b.asFloatBuffer().get(out);
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = HalfPrecision.float16ToFloat(b.getShort(2 * i));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = HalfPrecision.bfloat16ToFloat(b.getShort(2 * i));
                }
            }
            default -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) b.getDouble(8 * i);
                }
            }
        }
        return out;
    }

    /**
     * The elements as longs: signed and unsigned integers and BOOL (0 or 1); U64 values above
     * {@code Long.MAX_VALUE} come back as their two's-complement bits.
     *
     * @param name a tensor name
     * @return a new array
     * @throws InvalidRequestException for other dtypes
     */
    public long[] longs(String name) {
        TensorInfo t = info(name);
        if (!t.dtype().isIntegral()) {
            throw new InvalidRequestException(path + ": tensor \"" + name + "\" is " + t.dtype()
                    + "; longs() reads integer and BOOL tensors" + (t.dtype().isFloatingPoint() ? " (use floats())" : ""));
        }
        ByteBuffer b = bytes(name);
        int n = (int) t.elementCount();
        long[] out = new long[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (t.dtype()) {
                case I64, U64 -> b.getLong(8 * i);
                case I32 -> b.getInt(4 * i);
                case U32 -> b.getInt(4 * i) & 0xffffffffL;
                case I16 -> b.getShort(2 * i);
                case U16 -> b.getShort(2 * i) & 0xffff;
                case I8 -> b.get(i);
                default -> b.get(i) & 0xff; // U8, BOOL
            };
        }
        return out;
    }

    /**
     * @param name a floating-point tensor
     * @return it as an SDK tensor (see {@link #floats(String)})
     */
    public Tensor tensor(String name) {
        long[] shape = info(name).shape();
        int[] s = new int[shape.length];
        for (int i = 0; i < s.length; i++) {
            if (shape[i] > Integer.MAX_VALUE) {
                throw InvalidRequestException.of("tensor " + name + " shape", "dimensions that fit an int",
                        Arrays.toString(shape));
            }
            s[i] = (int) shape[i];
        }
        return Tensor.wrap(floats(name), s);
    }

    /**
     * @param name a tensor name
     * @return it as an ONNX tensor of the matching type, sharing the mapped bytes (for example to replace an
     *     initializer)
     */
    public TensorValue tensorValue(String name) {
        TensorInfo t = info(name);
        return TensorValue.ofRaw(name, t.dtype().onnxType(), bytes(name), t.shape());
    }

    private ByteBuffer region(long position, int length) {
        if (length == 0) {
            ensureOpen();
            return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
        }
        int first = (int) (position / chunkSize);
        int last = (int) ((position + length - 1) / chunkSize);
        if (first == last) {
            MappedByteBuffer c = chunk(first);
            int off = (int) (position - first * chunkSize);
            return c.duplicate().position(off).limit(off + length).slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer out = ByteBuffer.allocate(length);
        for (int i = first; i <= last; i++) {
            long chunkStart = i * chunkSize;
            long from = Math.max(position, chunkStart);
            long to = Math.min(position + length, chunkStart + chunkSize);
            ByteBuffer c = chunk(i).duplicate();
            c.position((int) (from - chunkStart)).limit((int) (to - chunkStart));
            out.put(c);
        }
        out.flip();
        return out.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    private synchronized MappedByteBuffer chunk(int index) {
        ensureOpen();
        MappedByteBuffer c = chunks[index];
        if (c == null) {
            long start = index * chunkSize;
            try {
                c = channel.map(FileChannel.MapMode.READ_ONLY, start, Math.min(chunkSize, fileSize - start));
            } catch (IOException e) {
                throw new ModelLoadException("cannot map " + path + " at offset " + start + ": " + e, e);
            }
            chunks[index] = c;
        }
        return c;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("safetensors file " + path + " is closed");
        }
    }

    /** Closes the file. Buffers already returned stay readable; further reads throw {@link IllegalStateException}. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        Arrays.fill(chunks, null);
        closeQuietly(channel);
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + path + ", " + tensors.size() + " tensors]";
    }

    // ---------------------------------------------------------------- helpers

    private static ModelLoadException fail(Path path, String message) {
        return new ModelLoadException(path + ": " + message);
    }

    private static ByteBuffer readFully(FileChannel ch, long position, int length, Path path) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining()) {
            int n = ch.read(b, position + b.position());
            if (n < 0) {
                throw fail(path, "file ended at " + (position + b.position()) + " while reading the header");
            }
        }
        b.flip();
        return b;
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing useful to do: the file was only read
        }
    }
}
