/**
 * A small, strict JSON reader and deterministic writer for the SDK's own files: safetensors headers,
 * {@code model_index.json} and configuration files. {@link io.senseflow.onnx.json.Json#parse(String)} gives a tree of
 * immutable {@link io.senseflow.onnx.json.JsonValue}s; {@link io.senseflow.onnx.json.Json#write(JsonValue)} turns one
 * back into text.
 */
package io.senseflow.onnx.json;
