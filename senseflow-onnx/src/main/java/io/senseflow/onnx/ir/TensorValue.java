package io.senseflow.onnx.ir;

import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.tensor.HalfPrecision;
import io.senseflow.tensor.Tensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * An immutable ONNX tensor ({@code TensorProto}): an initializer, or the value of a tensor attribute.
 *
 * <p>The payload is held as little-endian bytes in the layout of {@code raw_data}, whatever field it was read
 * from, so accessors work the same for every storage form. Tensors read from a file share the file's bytes (no
 * copy); tensors stored as external data are read from their data file when their bytes are asked for, by mapping
 * just that tensor's region, so a model with a data file larger than 2 GB can be read as long as each single
 * tensor is below 2 GiB.
 *
 * <p>{@link #storage()} records how the payload was or will be encoded ({@code raw_data}, the typed repeated
 * fields, or external data). Equality compares name, type, dimensions, documentation and payload content, not the
 * storage form: a tensor written as external data and read back equals the original.
 *
 * <p>Immutable: safe to share between threads.
 */
public final class TensorValue {
    /** How a tensor's payload is encoded in a {@code TensorProto}. */
    public enum Storage {
        /** {@code raw_data}: little-endian bytes (the usual form). */
        RAW,
        /** The typed repeated field for the type ({@code float_data}, {@code int32_data}, {@code int64_data}, ...). */
        TYPED,
        /** A region of a separate data file ({@code data_location = EXTERNAL}). */
        EXTERNAL
    }

    /** The largest payload one Java buffer can hold. */
    static final long MAX_BUFFER = Integer.MAX_VALUE - 8;

    private final String name;
    private final DataType type;
    private final long[] dims;
    private final long elementCount;
    private final Storage storage;
    private final ByteBuffer data;
    private final List<byte[]> strings;
    private final ExternalData external;
    private final String docString;
    private final UnknownFields unknownFields;

    TensorValue(String name, DataType type, long[] dims, long elementCount, Storage storage, ByteBuffer data,
                List<byte[]> strings, ExternalData external, String docString, UnknownFields unknownFields) {
        this.name = Objects.requireNonNull(name, "name");
        this.type = type;
        this.dims = dims;
        this.elementCount = elementCount;
        this.storage = storage;
        this.data = data == null ? null : data.slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        this.strings = strings;
        this.external = external;
        this.docString = docString;
        this.unknownFields = unknownFields;
    }

    // ---------------------------------------------------------------- factories

    /**
     * @param name the tensor name
     * @param values the elements in row-major order
     * @param dims the dimensions (none for a scalar); their product must equal the number of values
     * @return a FLOAT tensor
     */
    public static TensorValue ofFloats(String name, float[] values, long... dims) {
        long n = checkCount(name, values.length, dims);
        ByteBuffer b = allocate(n * 4);
        b.asFloatBuffer().put(values);
        return inline(name, DataType.FLOAT, dims, n, b);
    }

    /**
     * @param name the tensor name
     * @param values the elements, rounded to half precision (nearest, ties to even)
     * @param dims the dimensions
     * @return a FLOAT16 tensor
     */
    public static TensorValue ofFloat16(String name, float[] values, long... dims) {
        long n = checkCount(name, values.length, dims);
        ByteBuffer b = allocate(n * 2);
        b.asShortBuffer().put(HalfPrecision.floatToFloat16(values));
        return inline(name, DataType.FLOAT16, dims, n, b);
    }

    /**
     * @param name the tensor name
     * @param values the elements, rounded to bfloat16 (nearest, ties to even)
     * @param dims the dimensions
     * @return a BFLOAT16 tensor
     */
    public static TensorValue ofBfloat16(String name, float[] values, long... dims) {
        long n = checkCount(name, values.length, dims);
        ByteBuffer b = allocate(n * 2);
        b.asShortBuffer().put(HalfPrecision.floatToBfloat16(values));
        return inline(name, DataType.BFLOAT16, dims, n, b);
    }

    /**
     * @param name the tensor name
     * @param values the elements
     * @param dims the dimensions
     * @return a DOUBLE tensor
     */
    public static TensorValue ofDoubles(String name, double[] values, long... dims) {
        long n = checkCount(name, values.length, dims);
        ByteBuffer b = allocate(n * 8);
        b.asDoubleBuffer().put(values);
        return inline(name, DataType.DOUBLE, dims, n, b);
    }

    /**
     * @param name the tensor name
     * @param values the elements
     * @param dims the dimensions
     * @return an INT64 tensor
     */
    public static TensorValue ofLongs(String name, long[] values, long... dims) {
        long n = checkCount(name, values.length, dims);
        ByteBuffer b = allocate(n * 8);
        b.asLongBuffer().put(values);
        return inline(name, DataType.INT64, dims, n, b);
    }

    /**
     * @param name the tensor name
     * @param values the elements
     * @param dims the dimensions
     * @return an INT32 tensor
     */
    public static TensorValue ofInts(String name, int[] values, long... dims) {
        long n = checkCount(name, values.length, dims);
        ByteBuffer b = allocate(n * 4);
        b.asIntBuffer().put(values);
        return inline(name, DataType.INT32, dims, n, b);
    }

    /**
     * @param name the tensor name
     * @param values the elements
     * @param dims the dimensions
     * @return a BOOL tensor
     */
    public static TensorValue ofBooleans(String name, boolean[] values, long... dims) {
        long n = checkCount(name, values.length, dims);
        ByteBuffer b = allocate(n);
        for (boolean v : values) {
            b.put((byte) (v ? 1 : 0));
        }
        b.flip();
        return inline(name, DataType.BOOL, dims, n, b);
    }

    /**
     * @param name the tensor name
     * @param values the elements, stored as UTF-8
     * @param dims the dimensions
     * @return a STRING tensor
     */
    public static TensorValue ofStrings(String name, List<String> values, long... dims) {
        long n = checkCount(name, values.size(), dims);
        List<byte[]> bytes = new ArrayList<>(values.size());
        for (String v : values) {
            bytes.add(v.getBytes(StandardCharsets.UTF_8));
        }
        return new TensorValue(name, DataType.STRING, dims.clone(), n, Storage.TYPED, null, List.copyOf(bytes), null, "",
                UnknownFields.EMPTY);
    }

    /**
     * A tensor over little-endian bytes in {@code raw_data} layout, without copying them: the caller must not
     * change the buffer's content afterwards.
     *
     * @param name the tensor name
     * @param type any type with a fixed width
     * @param littleEndian the payload, from position to limit
     * @param dims the dimensions
     * @return the tensor
     */
    public static TensorValue ofRaw(String name, DataType type, ByteBuffer littleEndian, long... dims) {
        Objects.requireNonNull(type, "type");
        if (type.bits() == 0) {
            throw InvalidRequestException.of("tensor " + name + " type", "a type with a fixed width", type);
        }
        long n = elementCount(name, dims);
        long expected = type.byteSize(n);
        if (littleEndian.remaining() != expected) {
            throw InvalidRequestException.of("tensor " + name + " payload",
                    expected + " bytes for " + type + " " + Arrays.toString(dims), littleEndian.remaining() + " bytes");
        }
        return inline(name, type, dims, n, littleEndian.slice());
    }

    /**
     * @param name the tensor name
     * @param tensor the values and dimensions
     * @param type FLOAT, FLOAT16, BFLOAT16 or DOUBLE
     * @return a tensor of that type holding the (rounded) values
     */
    public static TensorValue of(String name, Tensor tensor, DataType type) {
        float[] v = tensor.toArray();
        long[] dims = Arrays.stream(tensor.shape()).asLongStream().toArray();
        return switch (type) {
            case FLOAT -> ofFloats(name, v, dims);
            case FLOAT16 -> ofFloat16(name, v, dims);
            case BFLOAT16 -> ofBfloat16(name, v, dims);
            case DOUBLE -> {
                double[] d = new double[v.length];
                for (int i = 0; i < v.length; i++) {
                    d[i] = v[i];
                }
                yield ofDoubles(name, d, dims);
            }
            default -> throw InvalidRequestException.of("tensor " + name + " type", "FLOAT, FLOAT16, BFLOAT16 or DOUBLE", type);
        };
    }

    /** @param name the tensor name @param tensor values and dimensions @return a FLOAT tensor */
    public static TensorValue of(String name, Tensor tensor) {
        return of(name, tensor, DataType.FLOAT);
    }

    private static TensorValue inline(String name, DataType type, long[] dims, long n, ByteBuffer data) {
        return new TensorValue(name, type, dims.clone(), n, Storage.RAW, data, null, null, "", UnknownFields.EMPTY);
    }

    private static ByteBuffer allocate(long bytes) {
        if (bytes > MAX_BUFFER) {
            throw InvalidRequestException.of("tensor size", "at most " + MAX_BUFFER + " bytes", bytes + " bytes");
        }
        return ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static long checkCount(String name, int count, long[] dims) {
        Objects.requireNonNull(name, "name");
        long n = elementCount(name, dims);
        if (n != count) {
            throw InvalidRequestException.of("tensor " + name + " values", n + " elements for dims " + Arrays.toString(dims),
                    count + " elements");
        }
        return n;
    }

    private static long elementCount(String name, long[] dims) {
        long n = 1;
        for (long d : dims) {
            if (d < 0) {
                throw InvalidRequestException.of("tensor " + name + " dims", "non-negative dimensions", Arrays.toString(dims));
            }
            try {
                n = Math.multiplyExact(n, d);
            } catch (ArithmeticException e) {
                throw InvalidRequestException.of("tensor " + name + " dims", "an element count that fits a long", Arrays.toString(dims));
            }
        }
        return n;
    }

    // ---------------------------------------------------------------- properties

    /** @return the tensor name (the initializer name) */
    public String name() {
        return name;
    }

    /** @return the element type */
    public DataType dataType() {
        return type;
    }

    /** @return a copy of the dimensions */
    public long[] dims() {
        return dims.clone();
    }

    /** @return the number of dimensions */
    public int rank() {
        return dims.length;
    }

    /** @return the number of elements (1 for a scalar) */
    public long elementCount() {
        return elementCount;
    }

    /** @return the payload size in bytes ({@code raw_data} layout) @throws IllegalStateException for STRING */
    public long byteSize() {
        return type.byteSize(elementCount);
    }

    /** @return how the payload is encoded */
    public Storage storage() {
        return storage;
    }

    /** @return whether the payload lives in a separate data file */
    public boolean isExternal() {
        return storage == Storage.EXTERNAL;
    }

    /** @return the external data reference, or null when the payload is inline */
    public ExternalData externalData() {
        return external;
    }

    /** @return documentation, empty when absent */
    public String docString() {
        return docString;
    }

    /** @return fields of the {@code TensorProto} this SDK does not model */
    public UnknownFields unknownFields() {
        return unknownFields;
    }

    // ---------------------------------------------------------------- payload

    /**
     * The payload in {@code raw_data} layout: a read-only little-endian buffer. Inline payloads are returned without
     * copying; external payloads are mapped from their data file.
     *
     * @return the bytes
     * @throws ModelLoadException if external data cannot be read
     * @throws InvalidRequestException for STRING tensors (use {@link #strings()})
     */
    public ByteBuffer bytes() {
        if (type == DataType.STRING) {
            throw new InvalidRequestException("tensor " + name + " is a STRING tensor; use strings()");
        }
        if (storage == Storage.EXTERNAL) {
            return mapExternal();
        }
        return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    private ByteBuffer mapExternal() {
        if (external.file() == null) {
            throw new ModelLoadException("tensor " + name + " is stored in external file " + external.location()
                    + ", but the model was parsed from bytes without a folder; read it with OnnxModel.read(path)");
        }
        if (external.length() > MAX_BUFFER) {
            throw new ModelLoadException("tensor " + name + " in " + external.file() + " has " + external.length()
                    + " bytes; a single tensor over 2 GiB cannot be held in one Java buffer");
        }
        try (FileChannel ch = FileChannel.open(external.file(), StandardOpenOption.READ)) {
            long size = ch.size();
            if (external.offset() + external.length() > size) {
                throw new ModelLoadException("external data file " + external.file() + " has " + size
                        + " bytes, but tensor " + name + " needs bytes [" + external.offset() + ", "
                        + (external.offset() + external.length()) + "); was the file changed after the model was read?");
            }
            if (external.length() == 0) {
                return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
            }
            return ch.map(FileChannel.MapMode.READ_ONLY, external.offset(), external.length())
                    .asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        } catch (NoSuchFileException e) {
            throw new ModelLoadException("external data file " + external.file() + " of tensor " + name + " is missing");
        } catch (IOException e) {
            throw new ModelLoadException("could not read tensor " + name + " from external data file " + external.file()
                    + ": " + e, e);
        }
    }

    /**
     * The elements as floats: exact for FLOAT, FLOAT16 and BFLOAT16, rounded for DOUBLE.
     *
     * @return a new array
     * @throws InvalidRequestException for other types (integers: use {@link #toLongs()})
     */
    public float[] toFloats() {
        int n = arrayLength();
        float[] out = new float[n];
        ByteBuffer b = bytes();
        switch (type) {
            case FLOAT -> b.asFloatBuffer().get(out);
            case FLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = HalfPrecision.float16ToFloat(b.getShort(i * 2));
                }
            }
            case BFLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = HalfPrecision.bfloat16ToFloat(b.getShort(i * 2));
                }
            }
            case DOUBLE -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) b.getDouble(i * 8);
                }
            }
            default -> throw new InvalidRequestException("tensor " + name + " is " + type
                    + "; toFloats() reads FLOAT, FLOAT16, BFLOAT16 and DOUBLE" + (type.isIntegral() ? " (use toLongs())" : ""));
        }
        return out;
    }

    /**
     * The elements as longs: INT64, INT32, INT16, INT8, UINT32, UINT16, UINT8 and BOOL (0 or 1); UINT64 values
     * above {@code Long.MAX_VALUE} come back as their two's-complement bits.
     *
     * @return a new array
     * @throws InvalidRequestException for other types
     */
    public long[] toLongs() {
        int n = arrayLength();
        long[] out = new long[n];
        ByteBuffer b = bytes();
        switch (type) {
            case INT64, UINT64 -> b.asLongBuffer().get(out);
            case INT32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(i * 4);
                }
            }
            case UINT32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(i * 4) & 0xffffffffL;
                }
            }
            case INT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getShort(i * 2);
                }
            }
            case UINT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getShort(i * 2) & 0xffff;
                }
            }
            case INT8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i);
                }
            }
            case UINT8, BOOL -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i) & 0xff;
                }
            }
            default -> throw new InvalidRequestException("tensor " + name + " is " + type
                    + "; toLongs() reads integer and BOOL tensors" + (type.isFloatingPoint() ? " (use toFloats())" : ""));
        }
        return out;
    }

    /**
     * @return the elements of a STRING tensor, decoded as UTF-8
     * @throws InvalidRequestException for other types
     */
    public List<String> strings() {
        if (type != DataType.STRING) {
            throw new InvalidRequestException("tensor " + name + " is " + type + ", not STRING");
        }
        List<String> out = new ArrayList<>(strings.size());
        for (byte[] s : strings) {
            out.add(new String(s, StandardCharsets.UTF_8));
        }
        return out;
    }

    List<byte[]> rawStrings() {
        return strings;
    }

    /**
     * @return the elements as an SDK tensor (see {@link #toFloats()} for the types accepted)
     * @throws InvalidRequestException if a dimension exceeds the int range
     */
    public Tensor toTensor() {
        int[] shape = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] > Integer.MAX_VALUE) {
                throw InvalidRequestException.of("tensor " + name + " dims", "dimensions that fit an int", Arrays.toString(dims));
            }
            shape[i] = (int) dims[i];
        }
        return Tensor.wrap(toFloats(), shape);
    }

    private int arrayLength() {
        if (elementCount > MAX_BUFFER) {
            throw InvalidRequestException.of("tensor " + name, "at most " + MAX_BUFFER + " elements for a Java array",
                    elementCount);
        }
        return (int) elementCount;
    }

    // ---------------------------------------------------------------- copies

    /** @param newName a name @return a copy with that name (the payload is shared) */
    public TensorValue withName(String newName) {
        return new TensorValue(newName, type, dims, elementCount, storage, data, strings, external, docString, unknownFields);
    }

    /** @param doc documentation @return a copy with it */
    public TensorValue withDocString(String doc) {
        return new TensorValue(name, type, dims, elementCount, storage, data, strings, external,
                Objects.requireNonNull(doc, "doc"), unknownFields);
    }

    /**
     * A copy that is encoded as {@link Storage#RAW} or {@link Storage#TYPED}. Converting an external tensor to an
     * inline form maps its bytes now. Whether a tensor goes to external data is decided when writing
     * ({@link WriteOptions}), so {@link Storage#EXTERNAL} cannot be requested here.
     *
     * @param form RAW or TYPED
     * @return the copy (or this tensor when it already has that form)
     */
    public TensorValue withStorage(Storage form) {
        Objects.requireNonNull(form, "form");
        if (form == storage) {
            return this;
        }
        if (form == Storage.EXTERNAL) {
            throw new InvalidRequestException("tensor " + name
                    + ": external storage is chosen when writing; use WriteOptions.externalData(threshold)");
        }
        if (type == DataType.STRING) {
            throw new InvalidRequestException("tensor " + name + ": STRING tensors are always stored in string_data");
        }
        if (form == Storage.TYPED && type.bits() < 8) {
            throw new InvalidRequestException("tensor " + name + ": " + type + " can only be stored as raw_data");
        }
        return new TensorValue(name, type, dims, elementCount, form, bytes(), null, null, docString, unknownFields);
    }

    // ---------------------------------------------------------------- object

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof TensorValue t)) {
            return false;
        }
        if (!name.equals(t.name) || type != t.type || !Arrays.equals(dims, t.dims) || !docString.equals(t.docString)
                || !unknownFields.equals(t.unknownFields)) {
            return false;
        }
        if (type == DataType.STRING) {
            if (strings.size() != t.strings.size()) {
                return false;
            }
            for (int i = 0; i < strings.size(); i++) {
                if (!Arrays.equals(strings.get(i), t.strings.get(i))) {
                    return false;
                }
            }
            return true;
        }
        return bytes().equals(t.bytes());
    }

    /** Hashes name, type and dimensions only, so hashing never reads a large payload. */
    @Override
    public int hashCode() {
        return Objects.hash(name, type, Arrays.hashCode(dims));
    }

    @Override
    public String toString() {
        return "TensorValue[" + name + " " + type + " " + Arrays.toString(dims) + " " + storage + "]";
    }
}
