package io.senseflow.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** What the numbers were measured on: CPU, cores, memory, JVM, and the load while measuring. */
public final class Machine {
    private Machine() {
    }

    /** @return the CPU model, processor count, memory and JVM in one line */
    public static String describe() {
        String cpu = "unknown CPU";
        String flags = "";
        try {
            for (String l : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (l.startsWith("model name") && cpu.startsWith("unknown")) {
                    cpu = l.substring(l.indexOf(':') + 1).strip();
                }
                if (l.startsWith("flags") && flags.isEmpty()) {
                    flags = l.contains("avx512f") ? "AVX-512" : l.contains("avx2") ? "AVX2" : "no AVX2";
                }
            }
        } catch (IOException e) {
            // not Linux: the JVM's view below still says something
        }
        long memMiB = memTotalKiB() / 1024;
        return String.format(Locale.ROOT, "%s (%s), %d processors (nproc), %,d MiB memory, Java %s (%s), %s %s", cpu,
                flags.isEmpty() ? "?" : flags, Runtime.getRuntime().availableProcessors(), memMiB,
                System.getProperty("java.version"), System.getProperty("java.vm.name"), System.getProperty("os.name"),
                System.getProperty("os.arch"));
    }

    /** @return the 1-, 5- and 15-minute load averages, as {@code uptime} prints them, or "unknown" */
    public static String load() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+");
            return f[0] + ", " + f[1] + ", " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** @return the 1-minute load average, or NaN */
    public static double load1() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return Double.NaN;
        }
    }

    private static long memTotalKiB() {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/meminfo"));
            for (String l : lines) {
                if (l.startsWith("MemTotal:")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            return Runtime.getRuntime().maxMemory() / 1024;
        }
        return -1;
    }
}
