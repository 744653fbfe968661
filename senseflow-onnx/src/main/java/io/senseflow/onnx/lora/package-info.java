/**
 * Low-rank adapters on the sampling side: {@link io.senseflow.onnx.lora.LoraAdapterFile} reads the base + adapters
 * form that a LoRA distillation exports ({@code adapters.safetensors}) and folds it into a denoiser's ONNX
 * initializers; {@link io.senseflow.onnx.lora.LoraMerge} is the arithmetic and the graph reading that the training
 * side ({@code io.senseflow.tf.lora.LoraGraph}) shares. See docs/distillation.md, "LoRA".
 */
package io.senseflow.onnx.lora;
