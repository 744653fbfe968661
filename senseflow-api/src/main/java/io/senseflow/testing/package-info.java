/**
 * Closed-form models for tests and experiments, in the SDK's public API so downstream projects can test their
 * own code without any model download: a Gaussian-mixture data distribution with its exact flow velocity field
 * ({@link io.senseflow.testing.GaussianMixture}, {@link io.senseflow.testing.MixtureFlowGenerator}) and a
 * matching prompt encoder ({@link io.senseflow.testing.MixturePrompts}).
 */
package io.senseflow.testing;
