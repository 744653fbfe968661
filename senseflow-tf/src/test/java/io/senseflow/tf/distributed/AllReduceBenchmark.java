package io.senseflow.tf.distributed;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Benchmark (not a test) of the data-parallel all-reduce: N worker JVMs on loopback each join a
 * {@link CollectiveGroup} and time {@link CollectiveGroup#allReduceMean} of one module's gradient vector, for the
 * gradient sizes of the Shapes model and the large in-house config (docs/distributed.md). Run from the test class
 * path:
 *
 * <pre>
 * nice -n 15 java -cp CP io.senseflow.tf.distributed.AllReduceBenchmark 2 2290000,41900000 5 report.txt
 * </pre>
 *
 * Arguments: workers, comma-separated float counts, repetitions (after one warm-up), report file.
 */
public final class AllReduceBenchmark {
    private AllReduceBenchmark() {
    }

    /** @param args see the class comment, or {@code worker CLUSTER TASK SIZES REPS} in a worker */
    public static void main(String[] args) throws Exception {
        if (args[0].equals("worker")) {
            worker(ClusterSpec.parse(args[1]), Integer.parseInt(args[2]), args[3], Integer.parseInt(args[4]));
            Runtime.getRuntime().halt(0);
        }
        int n = Integer.parseInt(args[0]);
        ClusterSpec cluster = ClusterSpec.loopback(n);
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<Process> procs = new ArrayList<>();
        List<Path> logs = new ArrayList<>();
        try {
            for (int k = 0; k < n; k++) {
                Path log = Files.createTempFile("allreduce-" + k, ".log");
                logs.add(log);
                ProcessBuilder pb = new ProcessBuilder(java.toString(), "-Xmx3g", "-cp",
                        System.getProperty("java.class.path"), AllReduceBenchmark.class.getName(), "worker",
                        cluster.toString(), String.valueOf(k), args[1], args[2]).redirectErrorStream(true)
                        .redirectOutput(log.toFile());
                pb.environment().put("TF_ENABLE_ONEDNN_OPTS", "0");
                pb.environment().put("TF_CPP_MIN_LOG_LEVEL", "2");
                procs.add(pb.start());
            }
            for (Process p : procs) {
                p.waitFor();
            }
            StringBuilder report = new StringBuilder();
            for (int k = 0; k < n; k++) {
                for (String line : Files.readAllLines(logs.get(k))) {
                    if (line.startsWith("allreduce")) {
                        report.append(line).append('\n');
                    }
                }
            }
            System.out.print(report);
            if (args.length > 3) {
                Files.writeString(Path.of(args[3]), report);
            }
        } finally {
            for (Process p : procs) {
                if (p.isAlive()) {
                    p.destroyForcibly();
                }
            }
            for (Path l : logs) {
                Files.deleteIfExists(l);
            }
        }
    }

    private static void worker(ClusterSpec cluster, int task, String sizes, int reps) {
        try (CollectiveGroup g = CollectiveGroup.join(cluster, task, Duration.ofSeconds(300))) {
            g.allReduceMean("warmup", new float[16]);
            for (String s : sizes.split(",")) {
                int size = Integer.parseInt(s);
                float[] v = new float[size];
                Arrays.fill(v, task + 1);
                g.allReduceMean("bench" + size, v); // warm-up (builds the op, first ring setup)
                long[] ns = new long[reps];
                for (int r = 0; r < reps; r++) {
                    long t0 = System.nanoTime();
                    float[] out = g.allReduceMean("bench" + size, v);
                    ns[r] = System.nanoTime() - t0;
                    if (out[size - 1] != (cluster.size() + 1) / 2f) {
                        throw new IllegalStateException("wrong mean " + out[size - 1]);
                    }
                }
                Arrays.sort(ns);
                double med = ns[reps / 2] / 1e6;
                double mib = 4.0 * size / (1 << 20);
                System.out.println(String.format(Locale.ROOT, "allreduce task %d floats %d (%.1f MiB) median %.1f ms"
                        + " min %.1f ms max %.1f ms -> %.0f MiB/s algorithm bandwidth", task, size, mib, med,
                        ns[0] / 1e6, ns[reps - 1] / 1e6, mib / (med / 1e3)));
            }
        }
    }
}
