package io.senseflow.pipeline;

/**
 * Wall time per stage of one generation, in nanoseconds.
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param encodeNanos prompt encoding (tokenizer and text encoders)
 * @param denoiseNanos the sampling loop
 * @param decodeNanos decoding latents to images
 * @param stepNanos time of each sampling step
 */
public record StageTimings(long encodeNanos, long denoiseNanos, long decodeNanos, long[] stepNanos) {

    /** @return total time */
    public long totalNanos() {
        return encodeNanos + denoiseNanos + decodeNanos;
    }

    @Override
    public long[] stepNanos() {
        return stepNanos.clone();
    }
}
