/**
 * JMH micro-benchmarks of the per-step costs (the pure-Java work of a sampling step, one ONNX Runtime call through the
 * SDK against the raw session); run with the {@code jmh} profile.
 *
 * <p>Internal: not part of the public API; may change without notice.
 */
package io.senseflow.bench.jmh;
