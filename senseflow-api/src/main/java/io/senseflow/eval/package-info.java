/** Evaluation statistics: the Fréchet distance between feature sets (the statistic behind FID). */
package io.senseflow.eval;
