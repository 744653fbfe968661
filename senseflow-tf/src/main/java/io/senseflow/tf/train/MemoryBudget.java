package io.senseflow.tf.train;

import io.senseflow.InvalidRequestException;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How much memory a training run may use, in two pools: where the tensors live ({@code device}: native memory of the
 * process for TensorFlow on the CPU and ONNX Runtime, or a GPU's memory) and the JVM heap (Java copies of parameters
 * and optimizer state when a checkpoint is written, batches).
 *
 * <p>An immutable value (arrays and collections are copied in and out): safe to share between threads.
 *
 * @param deviceBytes bytes for TensorFlow's (and ONNX Runtime's) tensors
 * @param heapBytes bytes of JVM heap
 * @param description where the numbers come from, for messages
 */
public record MemoryBudget(long deviceBytes, long heapBytes, String description) {

    public MemoryBudget {
        if (deviceBytes <= 0 || heapBytes <= 0) {
            throw InvalidRequestException.of("memory budget", "positive byte counts",
                    "device " + deviceBytes + ", heap " + heapBytes);
        }
    }

    /**
     * The budget of this process on the CPU. Native memory: the smallest of the memory the OS reports available
     * ({@code MemAvailable} of {@code /proc/meminfo}, else the free physical memory), the cgroup limit minus current
     * use ({@code /sys/fs/cgroup/memory.max}, containers) and JavaCPP's {@code maxPhysicalBytes} (TensorFlow Java's
     * native allocations go through JavaCPP, which throws {@code OutOfMemoryError} once the process's resident memory
     * exceeds it; default 4 x {@code -Xmx}, raise it with {@code -Dorg.bytedeco.javacpp.maxPhysicalBytes}), less the
     * heap the JVM may still grow into. Heap: {@code Runtime.maxMemory()} ({@code -Xmx}). TensorFlow's tensors are
     * neither on the heap nor direct buffers, so {@code -XX:MaxDirectMemorySize} does not limit them.
     *
     * @return the detected budget
     */
    public static MemoryBudget detect() {
        Runtime rt = Runtime.getRuntime();
        long heapMax = rt.maxMemory();
        long heapGrowth = Math.max(0, heapMax - rt.totalMemory());
        StringBuilder why = new StringBuilder();
        long available = Long.MAX_VALUE;
        long meminfo = memAvailable();
        if (meminfo > 0) {
            available = meminfo;
            why.append("MemAvailable ").append(gib(meminfo));
        } else if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            available = os.getFreeMemorySize();
            why.append("free physical ").append(gib(available));
        }
        long cgroup = cgroupRemaining();
        if (cgroup > 0 && cgroup < available) {
            available = cgroup;
            why.append(", cgroup remaining ").append(gib(cgroup));
        }
        long javacpp = javacppMaxPhysical();
        if (javacpp > 0) {
            long rest = javacpp - heapMax;
            if (rest < available) {
                available = Math.max(rest, 1);
                why.append(", JavaCPP maxPhysicalBytes ").append(gib(javacpp)).append(" - heap");
            }
        }
        long device = Math.max(1, available - heapGrowth);
        why.append(", less heap growth ").append(gib(heapGrowth)).append("; heap -Xmx ").append(gib(heapMax));
        return new MemoryBudget(device, heapMax, why.toString());
    }

    /**
     * A GPU budget: TensorFlow's tensors on a device with {@code deviceBytes} for this run (what is left after ONNX
     * Runtime's {@code cudaMemoryLimitBytes} and TensorFlow's own {@code gpuMemoryLimitBytes}, if set), heap as detected.
     *
     * @param deviceBytes GPU memory for the run
     * @return the budget
     */
    public static MemoryBudget gpu(long deviceBytes) {
        return new MemoryBudget(deviceBytes, Runtime.getRuntime().maxMemory(), "GPU " + gib(deviceBytes)
                + " (given); heap -Xmx " + gib(Runtime.getRuntime().maxMemory()));
    }

    /**
     * @param deviceBytes bytes for the tensors
     * @param heapBytes bytes of heap
     * @return an explicit budget
     */
    public static MemoryBudget of(long deviceBytes, long heapBytes) {
        return new MemoryBudget(deviceBytes, heapBytes, "given");
    }

    /** @return a budget that accepts everything (skips the check) */
    public static MemoryBudget unlimited() {
        return new MemoryBudget(Long.MAX_VALUE, Long.MAX_VALUE, "unlimited");
    }

    static String gib(long bytes) {
        if (bytes == Long.MAX_VALUE) {
            return "unlimited";
        }
        if (bytes >= (1L << 30)) {
            return String.format(Locale.ROOT, "%.2f GiB", bytes / (double) (1L << 30));
        }
        return bytes >= (1L << 20) ? String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1L << 20))
                : String.format(Locale.ROOT, "%.1f KiB", bytes / 1024.0);
    }

    private static long memAvailable() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.US_ASCII)) {
                if (line.startsWith("MemAvailable:")) {
                    String[] p = line.substring(13).trim().split("\\s+");
                    return Long.parseLong(p[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or unreadable: fall back
        }
        return -1;
    }

    private static long cgroupRemaining() {
        try {
            Path max = Path.of("/sys/fs/cgroup/memory.max");
            Path cur = Path.of("/sys/fs/cgroup/memory.current");
            if (!Files.isReadable(max) || !Files.isReadable(cur)) {
                return -1;
            }
            String m = Files.readString(max, StandardCharsets.US_ASCII).trim();
            if (m.equals("max")) {
                return -1;
            }
            return Math.max(1, Long.parseLong(m) - Long.parseLong(Files.readString(cur, StandardCharsets.US_ASCII).trim()));
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    private static long javacppMaxPhysical() {
        try {
            return org.bytedeco.javacpp.Pointer.maxPhysicalBytes();
        } catch (LinkageError | RuntimeException e) {
            return -1;
        }
    }
}
