package io.senseflow.onnx.ir;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Where a tensor's bytes live when they are stored outside the model file ({@code data_location = EXTERNAL}).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param location the file name as written in the model, relative to the model's folder
 * @param offset byte offset of the tensor in that file
 * @param length byte length of the tensor
 * @param file the resolved path, or null when the model was parsed from bytes and has no folder
 */
public record ExternalData(String location, long offset, long length, Path file) {
    /** Checks the fields. */
    public ExternalData {
        Objects.requireNonNull(location, "location");
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("offset and length must be non-negative, got " + offset + ", " + length);
        }
    }
}
