package io.senseflow.distill;

/**
 * A generator-side loss: plain Java over forward-only access to the teacher, the fake score and the generator
 * (and input-gradient access to a discriminator). It returns its loss and its gradient with respect to the
 * generator's output; the {@link Distiller} adds the terms and runs one backward through the generator.
 *
 * <p>Writing one needs no engine code; see {@code docs/distillation.md} for an example. Objectives must draw all
 * randomness from {@link GeneratorContext#random} and {@link GeneratorContext#noise} so runs stay reproducible.
 *
 * <p>Called from the training thread only: implementations need not be thread-safe.
 */
public interface DistillationObjective {

    /** @return the metrics name */
    String name();

    /**
     * @param context the batch, the generator's output and access to the networks
     * @return the term
     */
    ObjectiveTerm evaluate(GeneratorContext context);

    /**
     * @param objective an objective
     * @param weight its weight in the sum
     * @return the objective with loss and gradient scaled by {@code weight}
     */
    static DistillationObjective weighted(DistillationObjective objective, double weight) {
        if (weight == 1.0) {
            return objective;
        }
        return new DistillationObjective() {
            @Override
            public String name() {
                return objective.name();
            }

            @Override
            public ObjectiveTerm evaluate(GeneratorContext context) {
                return objective.evaluate(context).scaled(weight);
            }

            @Override
            public String toString() {
                return weight + " * " + objective;
            }
        };
    }
}
