package io.senseflow.onnx.runtime;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;

/**
 * Native (direct) buffers for an {@link OrtModel}'s inputs, reused from run to run. ONNX Runtime reads a direct buffer
 * in place, so an input costs one copy into it; allocating a fresh direct buffer for every input of every run also
 * costs a native allocation, its zeroing and, later, its release by the garbage collector, which for the small inputs
 * of a sampling step took longer than the copy. Each run takes its own buffers and gives them back after the run, so
 * concurrent runs never share one. At most {@link #KEPT} buffers per input are kept.
 */
final class InputBuffers {
    static final int KEPT = 4;

    private final Map<String, ConcurrentLinkedDeque<ByteBuffer>> free = new ConcurrentHashMap<>();

    /**
     * @param input the input's name
     * @param bytes the size needed
     * @return a native-order direct buffer with position 0 and limit {@code bytes}
     */
    ByteBuffer take(String input, long bytes) {
        ConcurrentLinkedDeque<ByteBuffer> q = free.get(input);
        ByteBuffer b = q == null ? null : q.pollFirst();
        if (b == null || b.capacity() < bytes) {
            b = Conversions.direct(bytes);
        }
        b.clear().limit((int) bytes);
        return b;
    }

    /** @param input the input's name @param b a buffer from {@link #take}, no longer read by ONNX Runtime */
    void give(String input, ByteBuffer b) {
        ConcurrentLinkedDeque<ByteBuffer> q = free.computeIfAbsent(input, k -> new ConcurrentLinkedDeque<>());
        if (q.size() < KEPT) {
            q.offerFirst(b);
        }
    }

    /** Drops every kept buffer (the garbage collector frees them). */
    void clear() {
        free.clear();
    }
}
