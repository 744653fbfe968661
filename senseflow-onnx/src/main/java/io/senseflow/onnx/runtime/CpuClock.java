package io.senseflow.onnx.runtime;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;

/** The calling thread's CPU time, for {@link RunStatistics#sessionCpuNanos()}; 0 where the JVM cannot measure it. */
final class CpuClock {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    private static final boolean SUPPORTED = THREADS.isCurrentThreadCpuTimeSupported();

    private CpuClock() {
    }

    /** @return the calling thread's CPU time in nanoseconds (about 0.3 µs per reading on Linux), 0 if unsupported */
    static long now() {
        return SUPPORTED ? Math.max(0, THREADS.getCurrentThreadCpuTime()) : 0;
    }
}
