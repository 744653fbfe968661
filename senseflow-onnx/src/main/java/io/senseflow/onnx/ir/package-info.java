/**
 * The ONNX intermediate representation in pure Java: immutable models, graphs, nodes, attributes and tensors
 * ({@link io.senseflow.onnx.ir.OnnxModel} and friends), a strict reader and a deterministic writer built on a small
 * hand-written protobuf codec (no protobuf library, so no version conflict with TensorFlow's), external data files
 * larger than 2 GB, and {@link io.senseflow.onnx.ir.GraphBuilder} to build graphs in code.
 *
 * <p>See {@code docs/onnx.md} for an overview and the limits.
 */
package io.senseflow.onnx.ir;
