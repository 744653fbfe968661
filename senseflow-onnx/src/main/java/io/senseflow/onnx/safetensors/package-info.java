/**
 * Reading and writing the safetensors weight format: {@link io.senseflow.onnx.safetensors.SafetensorsFile} maps files
 * of any size in chunks and validates every header entry; {@link io.senseflow.onnx.safetensors.SafetensorsWriter}
 * writes deterministic files atomically.
 */
package io.senseflow.onnx.safetensors;
