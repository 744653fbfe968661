/**
 * The GAN term's discriminator (docs/algorithm.md §4.4, §4.8, §5): trainable convolutional heads on taps of a frozen
 * vision backbone (SenseFlow) or of the fake score's own features (DMD2), as a
 * {@link io.senseflow.train.DifferentiableModule}. See {@link io.senseflow.tf.discriminator.Discriminator} and
 * {@code docs/discriminator.md}.
 */
package io.senseflow.tf.discriminator;
