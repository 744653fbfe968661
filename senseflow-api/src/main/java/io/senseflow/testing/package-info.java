/**
 * Closed-form models for tests and experiments, published so downstream projects can test their own code without
 * any model download: a Gaussian-mixture data distribution with its exact flow velocity field
 * ({@link io.senseflow.testing.GaussianMixture}, {@link io.senseflow.testing.MixtureFlowGenerator}) and a
 * matching prompt encoder ({@link io.senseflow.testing.MixturePrompts}).
 *
 * <p>Internal: not part of the public API; may change without notice. Use it in tests, not in production code.
 */
package io.senseflow.testing;
