/**
 * Test fixtures: tiny model folders in the real layouts and a Java reference of the whole pipeline on them, so
 * applications and the SDK's own modules can test loaders, pipelines and tools offline and in milliseconds.
 *
 * <p>Internal: not part of the public API; may change without notice. Use it in tests, not in production code.
 *
 * <ul>
 *   <li>{@link io.senseflow.onnx.testing.TinyModelFolders} writes SD3-, FLUX- and SDXL-like Optimum folders whose ONNX
 *       graphs have the real exports' input/output names, ranks and dtypes (fp32 or fp16) but compute closed-form
 *       functions of every input, and an in-house folder in the SDK's own layout;</li>
 *   <li>{@link io.senseflow.onnx.testing.ReferencePipeline} predicts the final latents and images of a correct
 *       pipeline on a closed-form folder, and what one wrong convention (timestep scale, hidden-state index, pooled
 *       or text order, FLUX packing, VAE scaling, SDXL's zeroed negatives and {@code time_ids}) would give instead;</li>
 *   <li>{@link io.senseflow.onnx.testing.FixtureTokenizer} writes the tiny WordLevel {@code tokenizer.json} files and
 *       tokenizes like them in Java.</li>
 * </ul>
 *
 * <pre>{@code
 * Fixture f = TinyModelFolders.sd3(tempDir.resolve("sd3"));
 * GenerationRequest r = GenerationRequest.builder().prompt("a red cat").numInferenceSteps(4).seed(1).build();
 * try (LoadedModel m = Models.load(f.dir())) {
 *     GenerationResult out = m.pipeline().generate(r);
 *     Tensor expected = f.reference().predict(r).latents();   // equal up to float rounding
 * }
 * }</pre>
 */
package io.senseflow.onnx.testing;
