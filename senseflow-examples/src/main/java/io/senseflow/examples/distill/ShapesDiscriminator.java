package io.senseflow.examples.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DiffAugment;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.tf.discriminator.Discriminator;
import io.senseflow.tf.discriminator.HeadSpec;
import io.senseflow.tf.discriminator.Tap;
import io.senseflow.tf.run.DiscriminatorPlugin;
import java.util.Objects;

/**
 * The Shapes runs' discriminator as a {@link DiscriminatorPlugin}: heads on the fake score's features after block
 * {@code tapAfterBlock} (DMD2's design: no extra network, no decoder), conditioned like the generator, behind the
 * geometric DiffAugment on fake and real samples. {@link ShapesRun#builder} sets it for the {@code fake-score-features}
 * discriminator; {@code DistillationRun.Builder.discriminator(ShapesDiscriminator.forTeacher(...))} gives any
 * front-door run the same one.
 *
 * @param tapAfterBlock the fake score's block whose image tokens the heads read
 * @param heads the heads
 */
public record ShapesDiscriminator(int tapAfterBlock, HeadSpec heads) implements DiscriminatorPlugin {
    /** Width of the projection of the pooled text embedding the default heads are conditioned on. */
    public static final int PROJECTION = 32;

    public ShapesDiscriminator {
        if (tapAfterBlock < 0) {
            throw InvalidRequestException.of("tapAfterBlock", "a block index (0 or more)", tapAfterBlock);
        }
        Objects.requireNonNull(heads, "heads");
    }

    /**
     * The middle block of the teacher's transformer, and the given heads or the defaults conditioned on the pooled text
     * embedding (projection {@value #PROJECTION}).
     *
     * @param tc the teacher's transformer
     * @param heads the heads, or null for the defaults
     * @return the plug-in
     */
    public static ShapesDiscriminator forTeacher(FlowTransformer.Config tc, HeadSpec heads) {
        return new ShapesDiscriminator(Math.max(0, tc.depth() / 2 - 1), heads != null ? heads
                : HeadSpec.defaults().withTextConditioning(tc.pooledWidth(), PROJECTION));
    }

    @Override
    public Parts create(Context c) {
        DistillationConfig config = c.config();
        int[] s = c.sampleShape();
        if (s.length != 3) {
            throw InvalidRequestException.of("sample shape", "{channels, height, width}", java.util.Arrays.toString(s));
        }
        Discriminator d = Discriminator.onFakeScore(c.modules().fakeScore(), Tap.afterBlocks(tapAfterBlock))
                .noiseLevels(config.fakeScoreTimesteps().sampler()).optimizer(config.discriminatorOptimizer())
                .seed(config.seed()).name("discriminator").heads(heads)
                .inputShape(config.batchSize(), s[0], s[1], s[2]).conditionedLike(c.modules().generator()).build();
        return Parts.of(d).withAugmentation(DiffAugment.geometric(), true);
    }
}
