package io.senseflow.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.tensor.Tensor;
import io.senseflow.train.BackwardResult;
import io.senseflow.train.GradientMode;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.Upstream;

/**
 * The generator's GAN term (docs/algorithm.md §4.4): {@code L_G = -w_gan mean(omega(s_i) D(aug(decode(x0_hat)), c))}.
 * The gradient passes back through the discriminator and the (frozen) decoder in input-only mode, so neither
 * module's own parameter gradients change; the augmentation supplies its exact backward.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param weighting {@code omega} and {@code w_gan}
 */
public record AdversarialLoss(GanWeighting weighting) implements DistillationObjective {

    @Override
    public String name() {
        return "gan";
    }

    @Override
    public ObjectiveTerm evaluate(GeneratorContext ctx) {
        GeneratorContext.GanPath gan = ctx.gan();
        if (gan == null) {
            throw new InvalidRequestException("the GAN term needs a discriminator: set one on the Distiller builder");
        }
        Tensor x0 = ctx.x0();
        Tensor images = gan.decoder() == null ? x0 : gan.decoder().forward(ModuleInputs.of(x0, null));
        Augmentation.Applied aug = gan.augmentation().apply(images, ctx.random("gan.augment"));
        float[] omega = weighting.omega(ctx.sigmas());
        ModuleInputs in = RandomInputs.complete(gan.discriminator(), ModuleInputs.of(aug.output(), ctx.conditioning()),
                ctx.random("gan.discriminator_inputs"));
        BackwardResult r = gan.discriminator().backward(in, Upstream.linear(-weighting.weight(), omega),
                GradientMode.INPUTS);
        Tensor dImages = aug.backward(r.inputGradient(ModuleInputs.X));
        Tensor dx0 = gan.decoder() == null ? dImages
                : gan.decoder().backward(ModuleInputs.of(x0, null), Upstream.explicit(dImages), GradientMode.INPUTS)
                        .inputGradient(ModuleInputs.X);
        double meanLogit = r.output().mean();
        return new ObjectiveTerm(name(), r.loss(), ctx.gradientFromX0(dx0), dx0.countNonFinite(),
                GeneratorContext.diag("mean_logit_fake", meanLogit));
    }
}
