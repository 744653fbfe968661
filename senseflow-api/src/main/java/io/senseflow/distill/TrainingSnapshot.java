package io.senseflow.distill;

import io.senseflow.tensor.Tensor;
import io.senseflow.train.OptimizerState;
import java.util.Map;

/**
 * Everything an exact resume needs (what a checkpoint must hold): the iteration, the skip counter, the config
 * (whose seed, with the iteration, determines every later random draw — the noise is counter-based, so there is
 * no generator state to save), and each module's parameters and optimizer state. Backends persist it (e.g. as
 * safetensors + JSON); the engine only defines it.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param iteration the next iteration to run
 * @param skippedBatches batches skipped so far
 * @param configJson the run's config
 * @param parameters parameters by module ({@code generator}, {@code fake_score}, {@code discriminator}, {@code ema})
 * @param optimizers optimizer state by module
 */
public record TrainingSnapshot(long iteration, int skippedBatches, String configJson,
        Map<String, Map<String, Tensor>> parameters, Map<String, OptimizerState> optimizers) {
    public TrainingSnapshot {
        parameters = Map.copyOf(parameters);
        optimizers = Map.copyOf(optimizers);
    }
}
