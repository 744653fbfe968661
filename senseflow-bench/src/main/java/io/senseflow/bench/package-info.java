/**
 * The benchmark harness behind {@code senseflow bench}: sampling speed and the NFE bound, the SDK's overhead,
 * distillation phases, scaling and threads, written as Markdown reports (see {@code docs/performance.md}).
 *
 * <p>Internal: not part of the public API; may change without notice. The supported interface is the {@code senseflow bench} command.
 */
package io.senseflow.bench;
