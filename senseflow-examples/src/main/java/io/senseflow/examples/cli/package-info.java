/**
 * The {@code senseflow} command line (picocli): {@code generate}, the Shapes trainers, {@code eval}, {@code distill},
 * {@code quickstart}, {@code ablation} and {@code bench}, with progress bars and Ctrl-C handling.
 *
 * <p>Internal: not part of the public API; may change without notice. The supported interface is the command and its options, not these classes.
 */
package io.senseflow.examples.cli;
