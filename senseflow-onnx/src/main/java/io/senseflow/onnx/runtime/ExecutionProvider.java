package io.senseflow.onnx.runtime;

/**
 * Where ONNX Runtime runs a session's nodes.
 *
 * <p>Immutable: safe to share between threads.
 */
public enum ExecutionProvider {
    /** ONNX Runtime's CPU kernels; always available. */
    CPU,
    /**
     * NVIDIA GPUs through ONNX Runtime's CUDA execution provider. Needs the {@code onnxruntime_gpu} artifact (Maven
     * profile {@code gpu}) plus a matching CUDA and cuDNN install; when it cannot be used the session falls back to
     * {@link #CPU} (see {@link SessionConfig}).
     */
    CUDA
}
