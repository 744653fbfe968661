package io.senseflow.tf;

import io.senseflow.BackendException;

/**
 * TensorFlow is set up, or behaves, in a way the SDK does not trust to train with: oneDNN is enabled in the
 * process environment, or an engine self-check probe computed a value that disagrees with the Java reference. The
 * message names the probe (operation and shapes), the CPU, the error found and the workaround.
 *
 * <p>Immutable once thrown: safe to pass between threads.
 */
public final class EngineCheckException extends BackendException {
    private static final long serialVersionUID = 1L;

    private final String probe;

    /**
     * @param probe the probe or setting that failed, e.g. {@code "MatMul(transpose_b)+BiasAdd, constant weight,
     *     width 40"} or {@code "TF_ENABLE_ONEDNN_OPTS"}
     * @param message the whole explanation
     */
    public EngineCheckException(String probe, String message) {
        super(message);
        this.probe = probe;
    }

    /** @return the probe or setting that failed */
    public String probe() {
        return probe;
    }
}
