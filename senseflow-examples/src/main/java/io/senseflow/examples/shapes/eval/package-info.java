/**
 * The Shapes evaluation: prompt adherence judged by the bundled attribute classifier, Fréchet distances against real
 * renders and a teacher's images, reconstruction metrics, and their Markdown form.
 *
 * <p>Internal: not part of the public API; may change without notice.
 */
package io.senseflow.examples.shapes.eval;
