package io.senseflow.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What the numbers were measured on: CPU, cores, memory, JVM, and the load while measuring. */
public final class Machine {
    /** The flags that decide which kernels ONNX Runtime's MLAS and TensorFlow pick, in the order they are listed. */
    static final List<String> SIMD_FLAGS = List.of("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512dq",
            "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16",
            "amx_int8");

    private Machine() {
    }

    /**
     * The processor as Linux reports it in {@code /proc/cpuinfo} (first processor), or {@link #UNKNOWN} elsewhere.
     *
     * @param model the model name, e.g. "AMD EPYC"
     * @param vendor e.g. "AuthenticAMD" or "GenuineIntel"
     * @param family the CPU family (25 is AMD Zen 3/4; 6 is Intel's core line)
     * @param modelNumber the model number within the family
     * @param stepping the stepping
     * @param mhz the clock the kernel reports (a VM's is nominal), 0 when absent
     * @param cacheKiB the cache size the kernel reports, 0 when absent
     * @param flags every flag of the {@code flags} line
     */
    public record Cpu(String model, String vendor, int family, int modelNumber, int stepping, double mhz, int cacheKiB,
                      List<String> flags) {
        /** No {@code /proc/cpuinfo}. */
        public static final Cpu UNKNOWN = new Cpu("unknown CPU", "?", -1, -1, -1, 0, 0, List.of());

        /** Copies the flags. */
        public Cpu {
            flags = List.copyOf(flags);
        }

        /** @return whether the kernel says it runs under a hypervisor */
        public boolean virtual() {
            return flags.contains("hypervisor");
        }

        /** @return the vector-instruction flags present, in {@link #SIMD_FLAGS} order */
        public List<String> simdFlags() {
            List<String> out = new ArrayList<>();
            for (String f : SIMD_FLAGS) {
                if (flags.contains(f)) {
                    out.add(f);
                }
            }
            return out;
        }

        /** @return "AVX-512", "AVX2" or "no AVX2": the widest vector unit the flags show */
        public String widest() {
            return flags.contains("avx512f") ? "AVX-512" : flags.contains("avx2") ? "AVX2" : "no AVX2";
        }

        /**
         * @return e.g. "AMD EPYC (AuthenticAMD family 25 model 17 stepping 1, 2596 MHz, AVX-512: avx2 fma avx512f ...,
         *     virtual machine)"
         */
        public String describe() {
            if (family < 0) {
                return model;
            }
            return String.format(Locale.ROOT, "%s (%s family %d model %d stepping %d%s, %s: %s%s)", model, vendor, family,
                    modelNumber, stepping, mhz > 0 ? String.format(Locale.ROOT, ", %.0f MHz", mhz) : "", widest(),
                    String.join(" ", simdFlags()), virtual() ? ", virtual machine" : "");
        }
    }

    /** @return the first processor of {@code /proc/cpuinfo}, or {@link Cpu#UNKNOWN} where there is none */
    public static Cpu cpu() {
        try {
            return parseCpuinfo(Files.readAllLines(Path.of("/proc/cpuinfo")));
        } catch (IOException | RuntimeException e) {
            return Cpu.UNKNOWN;
        }
    }

    /** @param lines the lines of a {@code /proc/cpuinfo} @return its first processor */
    static Cpu parseCpuinfo(List<String> lines) {
        Map<String, String> first = new LinkedHashMap<>();
        for (String l : lines) {
            if (l.isBlank()) {
                if (!first.isEmpty()) {
                    break;
                }
                continue;
            }
            int colon = l.indexOf(':');
            if (colon > 0) {
                first.putIfAbsent(l.substring(0, colon).strip(), l.substring(colon + 1).strip());
            }
        }
        if (!first.containsKey("model name") && !first.containsKey("flags")) {
            return Cpu.UNKNOWN;
        }
        String flags = first.getOrDefault("flags", "");
        return new Cpu(first.getOrDefault("model name", "unknown CPU"), first.getOrDefault("vendor_id", "?"),
                integer(first.get("cpu family")), integer(first.get("model")), integer(first.get("stepping")),
                decimal(first.get("cpu MHz")), integer(first.getOrDefault("cache size", "").replace("KB", "").strip()),
                flags.isEmpty() ? List.of() : Arrays.asList(flags.split("\\s+")));
    }

    private static int integer(String s) {
        try {
            return s == null ? -1 : Integer.parseInt(s.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static double decimal(String s) {
        try {
            return s == null ? 0 : Double.parseDouble(s.strip());
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** @return the CPU (model, family, flags), processor count, memory and JVM in one line */
    public static String describe() {
        long memMiB = memTotalKiB() / 1024;
        return String.format(Locale.ROOT, "%s, %d processors (nproc), %,d MiB memory, Java %s (%s), %s %s",
                cpu().describe(), Runtime.getRuntime().availableProcessors(), memMiB, System.getProperty("java.version"),
                System.getProperty("java.vm.name"), System.getProperty("os.name"), System.getProperty("os.arch"));
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
