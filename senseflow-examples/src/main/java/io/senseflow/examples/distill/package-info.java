/**
 * One distillation run of a teacher in the SDK's own layout, as the {@code distill}, {@code quickstart} and
 * {@code ablation} commands drive it: the session of open models, the Shapes presets and data, periodic evaluation,
 * curves and the export of the deployable student.
 *
 * <p>Internal: not part of the public API; may change without notice.
 */
package io.senseflow.examples.distill;
