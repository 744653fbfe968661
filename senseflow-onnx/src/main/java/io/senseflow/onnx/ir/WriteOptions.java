package io.senseflow.onnx.ir;

import io.senseflow.InvalidRequestException;

/**
 * How {@link OnnxModel#write(java.nio.file.Path, WriteOptions)} stores tensor payloads.
 *
 * <p>By default every payload goes inside the model file (which protobuf limits to 2 GiB). With
 * {@link #externalData(long)}, initializers of at least the threshold size (in the main graph and in subgraphs) go
 * into one data file next to the model, each at an offset aligned to {@link #alignment()} bytes, like ONNX's own
 * tooling does; the data file may be larger than 2 GB.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param externalThreshold initializers with at least this many payload bytes go to the data file; negative keeps
 *     every payload inline
 * @param externalFileName the data file's name, in the model's folder; null means the model file name followed by
 *     {@code _data} ({@code model.onnx} gives {@code model.onnx_data})
 * @param alignment the alignment of tensor offsets in the data file, a power of two
 */
public record WriteOptions(long externalThreshold, String externalFileName, long alignment) {
    /** The default alignment of tensor offsets in a data file: 4 KiB, a page on common systems. */
    public static final long DEFAULT_ALIGNMENT = 4096;

    /** Checks the fields. */
    public WriteOptions {
        if (alignment < 1 || Long.bitCount(alignment) != 1) {
            throw InvalidRequestException.of("alignment", "a power of two", alignment);
        }
        if (externalFileName != null && (externalFileName.isEmpty() || externalFileName.contains("/")
                || externalFileName.contains("\\") || externalFileName.equals(".") || externalFileName.equals(".."))) {
            throw InvalidRequestException.of("externalFileName", "a plain file name in the model's folder", externalFileName);
        }
    }

    /** @return options that keep every payload inside the model file */
    public static WriteOptions inline() {
        return new WriteOptions(-1, null, DEFAULT_ALIGNMENT);
    }

    /**
     * @param thresholdBytes initializers with at least this many payload bytes go to the data file (ONNX's tooling
     *     uses 1024)
     * @return options that write large initializers to {@code <model file name>_data}
     */
    public static WriteOptions externalData(long thresholdBytes) {
        if (thresholdBytes < 0) {
            throw InvalidRequestException.of("thresholdBytes", ">= 0", thresholdBytes);
        }
        return new WriteOptions(thresholdBytes, null, DEFAULT_ALIGNMENT);
    }

    /** @param fileName a plain file name @return a copy that uses it for the data file */
    public WriteOptions withExternalFileName(String fileName) {
        return new WriteOptions(externalThreshold, fileName, alignment);
    }

    /** @param bytes a power of two @return a copy with that alignment */
    public WriteOptions withAlignment(long bytes) {
        return new WriteOptions(externalThreshold, externalFileName, bytes);
    }

    /** @return whether any payload may go to a data file */
    public boolean usesExternalData() {
        return externalThreshold >= 0;
    }
}
