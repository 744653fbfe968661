package io.senseflow.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's resident memory: current ({@code VmRSS}) and peak ({@code VmHWM}) from {@code /proc/self/status}. Linux
 * lets a process reset its own peak (writing 5 to {@code /proc/self/clear_refs}), so one JVM can measure the peak of
 * one phase after another. Includes the JVM heap, native libraries and both engines' memory.
 */
public final class PeakRss {
    private PeakRss() {
    }

    /** @return whether the peak was reset (false where the kernel does not allow it) */
    public static boolean reset() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5", StandardCharsets.US_ASCII);
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** @return the peak resident memory in bytes since start or the last {@link #reset()}, or -1 */
    public static long peakBytes() {
        return field("VmHWM:");
    }

    /** @return the current resident memory in bytes, or -1 */
    public static long currentBytes() {
        return field("VmRSS:");
    }

    private static long field(String name) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith(name)) {
                    return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** @param bytes a size @return it in MiB, or "n/a" */
    public static String mib(long bytes) {
        return bytes < 0 ? "n/a" : String.format(java.util.Locale.ROOT, "%,d MiB", bytes >> 20);
    }
}
