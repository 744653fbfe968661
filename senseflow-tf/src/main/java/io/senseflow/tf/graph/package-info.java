/**
 * Low-level building blocks shared by the importer, the modules and the optimizer: op construction with unique,
 * valid TensorFlow names ({@link io.senseflow.tf.graph.GraphOps}), data-type mapping between ONNX and TensorFlow
 * ({@link io.senseflow.tf.graph.DataTypes}) and tensor conversion ({@link io.senseflow.tf.graph.TfTensors}).
 * Public so the other packages of this module can use them.
 *
 * <p>Internal: not part of the public API; may change without notice.
 */
package io.senseflow.tf.graph;
