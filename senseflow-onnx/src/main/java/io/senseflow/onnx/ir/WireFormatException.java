package io.senseflow.onnx.ir;

/**
 * Internal: bytes that are not valid protobuf, or a valid message that breaks an ONNX rule. The model reader
 * turns it into a {@link io.senseflow.ModelLoadException} that names the file.
 */
final class WireFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    WireFormatException(String message) {
        super(message, null, false, false);
    }
}
