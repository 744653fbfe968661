package io.senseflow.distill;

import io.senseflow.noise.RandomStream;
import io.senseflow.tensor.Tensor;

/**
 * A differentiable augmentation applied to images before the discriminator (docs/algorithm.md §4.4). It must return
 * the exact vector-Jacobian product of what it did, so the GAN gradient reaches the generator.
 *
 * <p>Called from the training thread only: implementations need not be thread-safe.
 */
public interface Augmentation {

    /** One application: its output and its backward. */
    interface Applied {
        /** @return the augmented images */
        Tensor output();

        /** @param gradient dL/d(output) @return dL/d(input) */
        Tensor backward(Tensor gradient);
    }

    /**
     * @param images the batch
     * @param rng randomness for this application
     * @return the result
     */
    Applied apply(Tensor images, RandomStream rng);

    /** @return the identity */
    static Augmentation none() {
        return (images, rng) -> new Applied() {
            @Override
            public Tensor output() {
                return images;
            }

            @Override
            public Tensor backward(Tensor gradient) {
                return gradient;
            }
        };
    }
}
