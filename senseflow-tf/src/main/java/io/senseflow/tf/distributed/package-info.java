/**
 * Data-parallel distillation on TensorFlow's own distributed runtime: a {@link io.senseflow.tf.distributed.CollectiveGroup}
 * per worker (gRPC server, session, {@code CollectiveReduceV2} mean all-reduce), the
 * {@link io.senseflow.tf.distributed.CollectiveGradientReducer} the {@code Distiller} calls after each backward, the
 * worker process ({@link io.senseflow.tf.distributed.DataParallelWorker}) and the one-machine launcher with fault
 * handling and restarts ({@link io.senseflow.tf.distributed.DataParallelLauncher}). See docs/distributed.md.
 */
package io.senseflow.tf.distributed;
