/**
 * The researcher's seam, shown: a custom {@link io.senseflow.distill.DistillationObjective}
 * ({@link io.senseflow.examples.research.TeacherOdeRegression}, an LPIPS-free regression onto teacher ODE pairs) and a
 * custom {@link io.senseflow.schedule.TimestepSampler} ({@link io.senseflow.examples.research.KumaraswamyTimesteps},
 * for the fake score's noise levels), plugged into a {@link io.senseflow.tf.run.DistillationRun} by
 * {@link io.senseflow.examples.research.ResearchSeamExample} without engine code.
 */
package io.senseflow.examples.research;
