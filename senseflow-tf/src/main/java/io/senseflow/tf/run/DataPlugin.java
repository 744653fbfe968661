package io.senseflow.tf.run;

import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.onnx.folders.LoadedModel;

/**
 * Where a {@link DistillationRun}'s batches come from, in place of the prompt file
 * ({@link DistillationRun.Builder#data}): given the run's config and the loaded teacher, the plug-in returns a
 * {@link DistillationDataset} whose {@code batch(iteration, size)} gives that iteration's prompts' conditioning and,
 * optionally, real samples (the GAN term's real side and the forward-noised generator inputs). Without a plug-in the run
 * uses its default data: the prompt file's cached embeddings cycled by iteration, with the {@code realData} samples.
 *
 * <p>A batch must be a pure function of {@code (iteration, size)} (draw from a generator seeded by both, not from a
 * stream that carries state between calls): a resumed run asks for batch {@code k} without having asked for the
 * earlier ones, and must get what an uninterrupted run got. The run asks once for {@code batch(0, 1)} while it builds,
 * to learn the conditioning's shapes. Whatever the plug-in opens with the teacher's encoders stays the teacher's (the
 * run closes the teacher, not the plug-in's dataset).
 *
 * <p>Code, not config: {@code run.json} records it under {@code plugins} ({@code data=} and a record's value or
 * another class's name), so a resume without it, or with another one, is refused.
 */
@FunctionalInterface
public interface DataPlugin {
    /**
     * @param context the run's config, its teacher and the shape of one sample
     * @return the run's data; its {@code sampleShape()} must be {@code context.sampleShape()}
     */
    DistillationDataset create(Context context);

    /**
     * What the plug-in gets.
     *
     * @param config the run's config (batch size, seed)
     * @param teacher the loaded teacher: its prompt encoder ({@code promptEncoder()}) and image encoder
     *     ({@code imageEncoder()}) turn prompts and images into the run's conditioning and latents
     * @param sampleShape one sample without the batch dimension (the generator's input, e.g. {@code [C, H, W]})
     */
    record Context(DistillationConfig config, LoadedModel teacher, int[] sampleShape) {
        /** @return a copy of the sample shape */
        @Override
        public int[] sampleShape() {
            return sampleShape.clone();
        }
    }
}
