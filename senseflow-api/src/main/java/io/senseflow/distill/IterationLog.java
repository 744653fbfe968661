package io.senseflow.distill;

import io.senseflow.NumericalException;
import io.senseflow.model.Conditioning;
import io.senseflow.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * One iteration's bookkeeping, kept out of the way of the {@link Distiller}'s updates: phase timings, the metrics the
 * iteration reports, and the finiteness checks under the run's {@link DistillationConfig.NonFinitePolicy} (STOP: a
 * {@link NumericalException} naming phase, iteration and tensor; SKIP: {@link SkipBatch}, which the distiller turns
 * into a skipped iteration).
 *
 * <p>Not thread-safe: one per iteration, on the training thread.
 */
final class IterationLog {
    /** Signals that a batch is skipped under the SKIP policy. */
    static final class SkipBatch extends RuntimeException {
        private static final long serialVersionUID = 1L;

        SkipBatch(String message) {
            super(message, null, false, false);
        }
    }

    private final long iteration;
    private final DistillationConfig.NonFinitePolicy policy;
    final Map<String, Long> phases = new LinkedHashMap<>();
    final Map<String, Double> losses = new LinkedHashMap<>();
    final Map<String, Double> outputGradientNorms = new LinkedHashMap<>();
    final Map<String, Double> parameterGradientNorms = new LinkedHashMap<>();
    final Map<String, Integer> nonFinite = new LinkedHashMap<>();

    IterationLog(long iteration, DistillationConfig.NonFinitePolicy policy) {
        this.iteration = iteration;
        this.policy = policy;
    }

    /** Adds time to a phase (phases met more than once add up). */
    /** @return the iteration this log is for */
    long iteration() {
        return iteration;
    }

    void addTime(String phase, long nanos) {
        phases.merge(phase, nanos, Long::sum);
    }

    /** Runs {@code work}, adding its time to {@code phase} (a phase cut short by an exception is not timed). */
    <T> T time(String phase, Supplier<T> work) {
        long t0 = System.nanoTime();
        T result = work.get();
        addTime(phase, System.nanoTime() - t0);
        return result;
    }

    /** Runs {@code work}, adding its time to {@code phase}. */
    void time(String phase, Runnable work) {
        long t0 = System.nanoTime();
        work.run();
        addTime(phase, System.nanoTime() - t0);
    }

    /** Records a generator term's loss, replaced-value count and output-gradient norm, checking loss and gradient. */
    void term(ObjectiveTerm term, String name) {
        losses.put(name, term.loss());
        nonFinite.put(name, term.nonFinite());
        requireFinite(term.loss(), "generator update", "objective '" + name + "' loss");
        requireFinite(term.gradient(), "generator update", "objective '" + name + "' gradient dL/dv_G");
        outputGradientNorms.put(name, term.gradientNorm());
    }

    /** Records a loss and checks it. */
    void loss(String name, double value, String phase, String what) {
        losses.put(name, value);
        requireFinite(value, phase, what);
    }

    void requireFinite(double value, String phase, String what) {
        if (!Double.isFinite(value)) {
            fail(phase, what, "is " + value);
        }
    }

    void requireFinite(Tensor t, String phase, String what) {
        int bad = t.countNonFinite();
        if (bad > 0) {
            fail(phase, what, "has " + bad + " NaN/Inf of " + t.size() + " values");
        }
    }

    void requireFinite(Conditioning c, String what) {
        requireFinite(c.tokens(), "data", what + " (token embeddings)");
        if (c.pooled() != null) {
            requireFinite(c.pooled(), "data", what + " (pooled embedding)");
        }
        for (Map.Entry<String, Tensor> e : c.extras().entrySet()) {
            requireFinite(e.getValue(), "data", what + " extra '" + e.getKey() + "'");
        }
    }

    private void fail(String phase, String what, String problem) {
        NumericalException e = NumericalException.nonFinite("distillation: " + phase, "iteration " + iteration, what,
                problem);
        if (policy == DistillationConfig.NonFinitePolicy.SKIP) {
            throw new SkipBatch(e.getMessage());
        }
        throw e;
    }
}
