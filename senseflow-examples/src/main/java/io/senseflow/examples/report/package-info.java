/**
 * Reports of the demo commands: samplers compared on the same prompts and noise, Markdown tables, labelled sample
 * grids and line charts (Java2D, headless).
 *
 * <p>Internal: not part of the public API; may change without notice.
 */
package io.senseflow.examples.report;
