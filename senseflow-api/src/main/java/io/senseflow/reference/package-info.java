/**
 * The pure-Java reference training backend: a multilayer perceptron with hand-written backpropagation
 * ({@link io.senseflow.reference.Mlp}), its parameters in Java arrays and AdamW over them. It implements
 * {@link io.senseflow.train.DifferentiableModule} so the distillation engine can be tested without TensorFlow.
 *
 * <p>Internal: not part of the public API; may change without notice. Train real models with {@code senseflow-tf}.
 */
package io.senseflow.reference;
