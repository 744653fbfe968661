package io.senseflow.pipeline;

import io.senseflow.SenseFlowException;
import io.senseflow.tensor.Tensor;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;

/**
 * Draws a pipeline's counter-based noise on a helper thread while ONNX Runtime runs the model, so that a few-step
 * student's re-noising does not wait for its Gaussians after every run (docs/performance.md, issue 18).
 *
 * <p>The noise is a pure function of (key, stream, element), so drawing it earlier on another thread gives the same
 * bits as drawing it on the calling thread when the scheduler asks (tested). The helper is one daemon thread, started
 * at the first prefetch and stopped by {@link #close()}; with fewer than two processors nothing is prefetched and the
 * draw runs on the caller when it is needed.
 */
final class NoisePrefetch implements AutoCloseable {
    private final boolean enabled;
    private ExecutorService executor;
    private boolean closed;

    NoisePrefetch(boolean enabled) {
        this.enabled = enabled && Runtime.getRuntime().availableProcessors() >= 2;
    }

    /**
     * @param draw the draw (pure: same result whenever it runs)
     * @return a supplier that gives the draw's result, computed on the helper thread from now on where enabled
     */
    Supplier<Tensor> start(Supplier<Tensor> draw) {
        ExecutorService e = executor();
        if (e == null) {
            return draw;
        }
        Future<Tensor> f = e.submit(draw::get);
        return () -> await(f);
    }

    private synchronized ExecutorService executor() {
        if (!enabled || closed) {
            return null;
        }
        if (executor == null) {
            executor = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "senseflow-noise");
                t.setDaemon(true);
                return t;
            });
        }
        return executor;
    }

    private static Tensor await(Future<Tensor> f) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return f.get();
                } catch (InterruptedException ie) {
                    interrupted = true; // the draw is short: finish it, keep the flag for the caller
                }
            }
        } catch (ExecutionException ee) {
            Throwable c = ee.getCause();
            if (c instanceof RuntimeException re) {
                throw re;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw new SenseFlowException("drawing the sampling noise failed", c);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (executor != null) {
            executor.shutdown();
            executor = null;
        }
    }
}
