/**
 * The SDK's in-house architectures, emitted as ONNX graphs (opset 17) with seeded initialisation: the
 * {@link io.senseflow.onnx.arch.FlowTransformer} (an SD3-style MMDiT velocity model), a small
 * {@link io.senseflow.onnx.arch.TextTransformer} and a small convolutional {@link io.senseflow.onnx.arch.Autoencoder}.
 *
 * <p>ONNX Runtime serves exactly these graphs and the TensorFlow importer trains them, so they use a small set of
 * operators both engines handle (no fused GELU or attention ops), fixed shapes apart from a symbolic {@code batch}
 * dimension, and PyTorch-style parameter names. Every model records its configuration in its metadata properties
 * ({@link io.senseflow.onnx.arch.ArchitectureMetadata}), so a loader can rebuild the configuration from the file.
 */
package io.senseflow.onnx.arch;
