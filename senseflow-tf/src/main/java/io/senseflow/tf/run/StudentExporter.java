package io.senseflow.tf.run;

import java.nio.file.Path;

/**
 * Writes a {@link DistillationRun}'s student in a layout of your own ({@link DistillationRun.Builder#exporter}), in
 * place of {@link DistillationRun#exportStudent}'s default (a copy of the teacher's folder whose denoiser is the
 * student). The exporter reads what it needs from the run: {@link DistillationRun#modules()} (the student's graph),
 * {@link DistillationRun#student()} (the weights it ships with: the EMA's when the config keeps one),
 * {@link DistillationRun#config()} (the anchors), {@link DistillationRun#iteration()}.
 */
@FunctionalInterface
public interface StudentExporter {
    /**
     * @param run the open run, at the iteration it stopped at
     * @param dir the folder asked for (absolute; the run has checked that it is new or empty)
     * @return the folder written
     */
    Path export(DistillationRun run, Path dir);
}
