package io.senseflow.bench;

import java.io.File;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.IntFunction;

/**
 * Before/after of an SDK change in one process: two builds of {@code senseflow-api} and {@code senseflow-onnx}, each in
 * its own class loader over one shared ONNX Runtime (its native library loads once), run the {@link BoundaryProbe}
 * alternately, round by round, so that the machine's load falls on both alike. Reports the median CPU time per call of
 * each build and their ratio.
 *
 * <pre>
 * java -cp BENCH_CLASSPATH io.senseflow.bench.BuildAb BEFORE_API:BEFORE_ONNX AFTER_API:AFTER_ONNX [rounds] [calls]
 * </pre>
 * where each build is its modules' class folders or jars; the rest of the classpath (ONNX Runtime and the other
 * libraries) is shared. The sizes are the Shapes model's and the large in-house model's at batch 1 and 16.
 */
public final class BuildAb {
    private BuildAb() {
    }

    /** @param args the two builds, then optionally rounds and calls per round */
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: BuildAb BEFORE_CLASSPATH AFTER_CLASSPATH [rounds] [calls]");
            System.exit(2);
        }
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 20;
        int calls = args.length > 3 ? Integer.parseInt(args[3]) : 200;
        ClassLoader shared = new URLClassLoader(urls(sharedClasspath()).toArray(URL[]::new),
                ClassLoader.getPlatformClassLoader());
        URL probe = BuildAb.class.getProtectionDomain().getCodeSource().getLocation();
        String[] names = {"before", "after"};
        Table table = Table.of("inputs (latent side, text length x width, batch)", "before: CPU µs / call",
                "after: CPU µs / call", "after / before");
        for (String spec : List.of("16,13,64,1", "16,13,64,16", "64,32,256,1", "64,32,256,16")) {
            AutoCloseable[] probes = new AutoCloseable[2];
            List<List<Long>> cpu = List.of(new ArrayList<>(), new ArrayList<>());
            try {
                for (int v = 0; v < 2; v++) {
                    List<URL> own = new ArrayList<>(List.of(probe));
                    own.addAll(urls(args[v]));
                    ClassLoader loader = new URLClassLoader(own.toArray(URL[]::new), shared);
                    probes[v] = (AutoCloseable) loader.loadClass(BoundaryProbe.class.getName())
                            .getConstructor(String.class).newInstance(spec);
                }
                for (int r = -2; r < rounds; r++) { // two warm-up rounds
                    for (int v = 0; v < 2; v++) {
                        @SuppressWarnings("unchecked")
                        long[] c = ((IntFunction<long[]>) probes[v]).apply(calls);
                        if (r >= 0) {
                            Arrays.stream(c).forEach(cpu.get(v)::add);
                        }
                    }
                }
            } finally {
                for (AutoCloseable p : probes) {
                    if (p != null) {
                        p.close();
                    }
                }
            }
            double before = Samples.of(cpu.get(0).stream().mapToLong(Long::longValue).toArray()).median();
            double after = Samples.of(cpu.get(1).stream().mapToLong(Long::longValue).toArray()).median();
            table.row(spec, StepCostBench.us(before), StepCostBench.us(after),
                    String.format(Locale.ROOT, "%.2f", after / before));
            System.err.printf(Locale.ROOT, "%s: %s %.1f µs, %s %.1f µs%n", spec, names[0], before / 1e3, names[1], after / 1e3);
        }
        System.out.print(table.markdown());
    }

    /** The JVM's classpath without the SDK's own modules (ONNX Runtime, TensorFlow and the other libraries). */
    private static String sharedClasspath() {
        List<String> out = new ArrayList<>();
        for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
            if (!e.contains("senseflow-")) {
                out.add(e);
            }
        }
        return String.join(File.pathSeparator, out);
    }

    private static List<URL> urls(String classpath) throws MalformedURLException {
        List<URL> out = new ArrayList<>();
        for (String e : classpath.split(File.pathSeparator)) {
            if (!e.isEmpty()) {
                out.add(new File(e).toURI().toURL());
            }
        }
        return out;
    }
}
