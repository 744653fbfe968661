/**
 * Training checkpoints on disk: {@link io.senseflow.onnx.checkpoint.CheckpointStore} writes a
 * {@link io.senseflow.distill.TrainingSnapshot} (parameters and optimizer slots as safetensors under their original
 * names, the run's config, a manifest with checksums) atomically into a folder per iteration and reads it back
 * verified. Backend-neutral: any {@link io.senseflow.train.DifferentiableModule} backend's snapshot fits.
 */
package io.senseflow.onnx.checkpoint;
