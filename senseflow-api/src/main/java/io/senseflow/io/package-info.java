/**
 * File helpers shared by the modules: {@link io.senseflow.io.AtomicFiles} writes files and folders so that a crash
 * never leaves a half-written one behind.
 *
 * <p>Internal: not part of the public API; may change without notice.
 */
package io.senseflow.io;
