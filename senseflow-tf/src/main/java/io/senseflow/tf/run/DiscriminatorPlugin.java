package io.senseflow.tf.run;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.Augmentation;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.tf.train.StudentModules;
import io.senseflow.train.DifferentiableModule;
import java.util.Objects;

/**
 * Builds the GAN term's discriminator of a {@link DistillationRun} from the run's own modules
 * ({@link DistillationRun.Builder#discriminator}), in place of the run's MLP head or VFM discriminator. The Shapes
 * example uses it for heads on the fake score's middle block with DiffAugment (DMD2's design); a researcher uses it for
 * any {@link DifferentiableModule} that scores samples.
 *
 * <p>Called once, after G and F are imported and before the distiller is built, and only when the config's GAN term is
 * on. The run owns what it returns: {@link DistillationRun#close()} closes the discriminator and the decoder. The
 * plug-in is code, not config: {@code run.json} records its name (a record's value, else its class) and a resume
 * without it, or with another, is refused.
 */
@FunctionalInterface
public interface DiscriminatorPlugin {
    /**
     * @param context the run's config and modules
     * @return the discriminator, with its optional decoder and augmentation
     */
    Parts create(Context context);

    /**
     * What the discriminator may be built from.
     *
     * @param config the run's config (the family preset with the builder's overrides)
     * @param modules G, F (and the EMA), already imported; use {@code modules.fakeScore()} for a discriminator on the
     *     fake score's features and {@code modules.generator()} to condition like the generator
     * @param sampleShape one sample's shape in the generator's space (e.g. {@code {C, H, W}})
     * @param pooledWidth the pooled text embedding's width (0 when the family has none)
     */
    record Context(DistillationConfig config, StudentModules modules, int[] sampleShape, int pooledWidth) {
        public Context {
            Objects.requireNonNull(config, "config");
            Objects.requireNonNull(modules, "modules");
            sampleShape = sampleShape.clone();
        }

        @Override
        public int[] sampleShape() {
            return sampleShape.clone();
        }
    }

    /**
     * The GAN term's modules, as {@code Distiller.Builder} takes them.
     *
     * @param discriminator scores a sample (its trainable parameters train on the discriminator update)
     * @param decoder a frozen module in front of it (e.g. a VAE decoder), or null
     * @param augmentation a differentiable augmentation before it, or null for none
     * @param augmentReal apply the augmentation to the real samples too
     */
    record Parts(DifferentiableModule discriminator, DifferentiableModule decoder, Augmentation augmentation,
                 boolean augmentReal) {
        public Parts {
            if (discriminator == null) {
                throw InvalidRequestException.of("DiscriminatorPlugin.Parts.discriminator", "a module", "null");
            }
            if (augmentation == null && augmentReal) {
                throw InvalidRequestException.of("DiscriminatorPlugin.Parts.augmentReal", "false without an"
                        + " augmentation", true);
            }
        }

        /** @param discriminator the discriminator @return parts with no decoder and no augmentation */
        public static Parts of(DifferentiableModule discriminator) {
            return new Parts(discriminator, null, null, false);
        }

        /** @param a the augmentation @param alsoOnReal on real samples too @return a copy */
        public Parts withAugmentation(Augmentation a, boolean alsoOnReal) {
            return new Parts(discriminator, decoder, Objects.requireNonNull(a, "augmentation"), alsoOnReal);
        }

        /** @param d the frozen decoder in front of the discriminator @return a copy */
        public Parts withDecoder(DifferentiableModule d) {
            return new Parts(discriminator, d, augmentation, augmentReal);
        }
    }
}
