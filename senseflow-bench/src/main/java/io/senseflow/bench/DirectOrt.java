package io.senseflow.bench;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

/**
 * ONNX Runtime's own costs for a teacher/student pair of model folders, measured with ONNX Runtime's Java API directly
 * (no SDK class runs here), so the SDK's figures can be read against ONNX Runtime's floor:
 * <ol>
 *   <li><b>Idle spinning</b>: the CPU time the process burns in the 300 ms after one transformer run while the caller
 *       sleeps, per spinning setting (what an idle pool takes from everything else on the machine);</li>
 *   <li><b>Per-run floor</b>: back-to-back runs of the transformer alone at batch 1, 2, 8 and 16, 1 and 2 threads:
 *       wall time and the calling thread's CPU time, and the speedup bound they give a 4-step student against a
 *       50-step guided teacher (a guided step is one run of twice the batch);</li>
 *   <li><b>Pipeline calls</b>: what a {@code generate} call does (text encoder, the transformer runs, the decoder),
 *       for the teacher at 50 and 4 guided steps and the student at 4 and 1 steps, in the order the {@code bench}
 *       harness runs them, with each thread setting in its own sessions: the ORT time of each transformer run by step
 *       index. The settings take turns round by round, with a 200 ms pause between turns so that a pool still
 *       spinning from one setting's turn does not fall on the next.</li>
 * </ol>
 *
 * <pre>
 * java -cp BENCH_CLASSPATH io.senseflow.bench.DirectOrt TEACHER_FOLDER STUDENT_FOLDER [rounds] [report.md]
 * </pre>
 *
 * The folders are the SDK's layout ({@code text_encoder/}, {@code transformer/}, {@code vae_decoder/}); inputs are
 * made from the graphs' declared names and shapes (tokens are small ids, latents Gaussian and updated by Euler steps,
 * so the runs see the values a sampler would).
 */
public final class DirectOrt {
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    /** Thread settings compared: intra-op threads and how idle workers wait. */
    static final List<Setting> SETTINGS = List.of(new Setting(2, BenchSettings.Spin.ALWAYS, false),
            new Setting(2, BenchSettings.Spin.WITHIN_RUNS, false), new Setting(2, BenchSettings.Spin.OFF, false),
            new Setting(1, BenchSettings.Spin.WITHIN_RUNS, false), new Setting(2, BenchSettings.Spin.ALWAYS, true),
            new Setting(2, BenchSettings.Spin.WITHIN_RUNS, true));

    private final OrtEnvironment env;

    private DirectOrt(OrtEnvironment env) {
        this.env = env;
    }

    /**
     * A thread setting.
     *
     * @param threads intra-op threads
     * @param spin how idle workers wait
     * @param global the environment's one intra-op pool (2 threads, spinning) shared by every session of the
     *     setting, instead of a pool per session
     */
    record Setting(int threads, BenchSettings.Spin spin, boolean global) {
        String label() {
            return (global ? "shared pool, " : "") + threads + (threads == 1 ? " thread" : " threads, spin " + spin.id());
        }

        OrtSession.SessionOptions options() throws OrtException {
            OrtSession.SessionOptions o = new OrtSession.SessionOptions();
            if (global) {
                o.disablePerSessionThreads();
            } else {
                o.setIntraOpNumThreads(threads);
            }
            o.setInterOpNumThreads(1);
            if (spin == BenchSettings.Spin.OFF) {
                o.addConfigEntry("session.intra_op.allow_spinning", "0");
            } else if (spin == BenchSettings.Spin.WITHIN_RUNS) {
                o.addConfigEntry("session.force_spinning_stop", "1");
            }
            return o;
        }
    }

    /** @param args teacher folder, student folder, optionally rounds (default 8) and a report file */
    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: DirectOrt TEACHER_FOLDER STUDENT_FOLDER [rounds] [report.md]");
            System.exit(2);
        }
        Path teacher = Path.of(args[0]);
        Path student = Path.of(args[1]);
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        Report report = new Report(System.out);
        report.note("# Direct ONNX Runtime calls (no SDK)");
        report.note("Machine: " + Machine.describe() + ". Load average at the start: " + Machine.load() + ".");
        OrtEnvironment env;
        // the process's one environment, with a shared intra-op pool that the "shared pool" settings use; the other
        // settings keep a pool per session, as the SDK does
        try (OrtEnvironment.ThreadingOptions threading = new OrtEnvironment.ThreadingOptions()) {
            threading.setGlobalIntraOpNumThreads(2);
            threading.setGlobalInterOpNumThreads(1);
            threading.setGlobalSpinControl(true);
            env = OrtEnvironment.getEnvironment(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "direct-ort",
                    threading);
        }
        DirectOrt d = new DirectOrt(env);
        clockAfterIdle(report);
        d.idleSpin(student.resolve("transformer/model.onnx"), report);
        d.floor(teacher.resolve("transformer/model.onnx"), rounds, report);
        d.pipelines(teacher, student, rounds, report);
        report.note("Load average at the end: " + Machine.load() + ".");
        if (args.length > 3) {
            report.write(Path.of(args[3]));
        }
    }

    // ------------------------------------------------------------------ clock after idle

    private static long sink;

    private static void scalarWork(int n) {
        long x = sink;
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005L + 1442695040888963407L;
            x ^= x >>> 29;
        }
        sink = x;
    }

    /** CPU time of fixed chunks of scalar work right after an idle pause: a clock that ramps up makes the first dearer. */
    private static void clockAfterIdle(Report report) throws InterruptedException {
        int n = 200_000;
        for (int i = 0; i < 2000; i++) {
            scalarWork(n); // compiled before it is timed
        }
        Table t = Table.of("pause before (ms)", "chunk 1 (µs)", "chunk 2", "chunk 3", "chunks 4..12 (median)");
        for (int pause : new int[] {200, 0}) {
            int chunks = 12;
            int reps = 15;
            long[][] c = new long[chunks][reps];
            for (int r = 0; r < reps; r++) {
                Thread.sleep(pause);
                for (int k = 0; k < chunks; k++) {
                    long c0 = THREADS.getCurrentThreadCpuTime();
                    scalarWork(n);
                    c[k][r] = THREADS.getCurrentThreadCpuTime() - c0;
                }
            }
            long[] rest = Arrays.stream(c, 3, chunks).flatMapToLong(Arrays::stream).toArray();
            t.row(pause, us(c[0]), us(c[1]), us(c[2]), fmt(Samples.of(rest).median() / 1e3, 0));
        }
        report.section("The clock after an idle pause");
        report.note("The calling thread's CPU time for each of 12 equal chunks of scalar work (about 0.35 ms each),"
                + " medians over 15 pauses.");
        report.table(t);
    }

    private static String us(long[] nanos) {
        return fmt(Samples.of(nanos).median() / 1e3, 0);
    }

    // ------------------------------------------------------------------ idle spinning

    private void idleSpin(Path transformer, Report report) throws Exception {
        Table t = Table.of("setting", "run (ms)", "process CPU in the 300 ms after the run (ms)",
                "same 300 ms without a run before (ms)");
        for (Setting s : SETTINGS) {
            try (OrtSession.SessionOptions o = s.options(); OrtSession session = env.createSession(transformer.toString(), o)) {
                Map<String, OnnxTensor> in = transformerInputs(session, 1, 0.5f, new Random(1));
                try {
                    for (int i = 0; i < 10; i++) {
                        session.run(in).close();
                    }
                    Thread.sleep(400);
                    long[] after = new long[5];
                    long[] quiet = new long[5];
                    long[] run = new long[5];
                    for (int i = 0; i < 5; i++) {
                        long c0 = processCpuNanos();
                        Thread.sleep(300);
                        quiet[i] = processCpuNanos() - c0;
                        long w0 = System.nanoTime();
                        session.run(in).close();
                        run[i] = System.nanoTime() - w0;
                        long c1 = processCpuNanos();
                        Thread.sleep(300);
                        after[i] = processCpuNanos() - c1;
                    }
                    t.row(s.label(), Samples.ms(Samples.of(run).median()), Samples.ms(Samples.of(after).median()),
                            Samples.ms(Samples.of(quiet).median()));
                } finally {
                    in.values().forEach(OnnxTensor::close);
                }
            }
        }
        report.section("Idle workers after a run (student transformer, batch 1)");
        report.note("CPU time of every thread of the process (/proc/self/task/*/schedstat) while the caller sleeps; the"
                + " last column is the JVM's own background work.");
        report.table(t);
    }

    /** CPU time of every thread of this process, from the scheduler's statistics (nanosecond resolution). */
    static long processCpuNanos() {
        long total = 0;
        try (Stream<Path> tasks = Files.list(Path.of("/proc/self/task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                try {
                    total += Long.parseLong(Files.readString(task.resolve("schedstat")).split(" ")[0]);
                } catch (IOException | RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            return ManagementFactory.getPlatformMXBean(com.sun.management.OperatingSystemMXBean.class).getProcessCpuTime();
        }
        return total;
    }

    // ------------------------------------------------------------------ per-run floor

    private void floor(Path transformer, int rounds, Report report) throws Exception {
        int[] batches = {1, 2, 8, 16};
        List<Setting> settings = List.of(new Setting(1, BenchSettings.Spin.WITHIN_RUNS, false),
                new Setting(2, BenchSettings.Spin.WITHIN_RUNS, false));
        Table t = Table.of("threads", "batch", "run: wall (ms)", "run: caller CPU (ms)", "wall / batch-1 wall");
        Table bound = Table.of("threads", "student batch b", "run of 2b / run of b",
                "teacher-50 loop / student-4 loop from the run costs", "= % of the 25x evals ratio",
                "same from the caller's CPU time (= %)");
        for (Setting s : settings) {
            double[] wall = new double[batches.length];
            double[] cpu = new double[batches.length];
            try (OrtSession.SessionOptions o = s.options(); OrtSession session = env.createSession(transformer.toString(), o)) {
                for (int bi = 0; bi < batches.length; bi++) {
                    Map<String, OnnxTensor> in = transformerInputs(session, batches[bi], 0.5f, new Random(2));
                    try {
                        for (int i = 0; i < 5; i++) {
                            session.run(in).close();
                        }
                        int n = Math.max(20, 4 * rounds);
                        long[] w = new long[n];
                        long[] c = new long[n];
                        for (int i = 0; i < n; i++) {
                            long c0 = THREADS.getCurrentThreadCpuTime();
                            long w0 = System.nanoTime();
                            session.run(in).close();
                            w[i] = System.nanoTime() - w0;
                            c[i] = THREADS.getCurrentThreadCpuTime() - c0;
                        }
                        wall[bi] = Samples.of(w).median();
                        cpu[bi] = Samples.of(c).median();
                        t.row(s.threads(), batches[bi], Samples.of(w).describeMs().replace(" ms", ""),
                                Samples.ms(Samples.of(c).median()),
                                fmt(wall[bi] / wall[0], 2) + "x");
                    } finally {
                        in.values().forEach(OnnxTensor::close);
                    }
                }
            }
            // a guided teacher step is one run of twice the batch: batch 1 vs 2, batch 8 vs 16
            bound.row(s.threads(), 1, fmt(wall[1] / wall[0], 2) + "x", fmt(50 * wall[1] / (4 * wall[0]), 2) + "x",
                    fmt(100 * 50 * wall[1] / (4 * wall[0]) / 25, 1) + " %", cpuBound(cpu[1], cpu[0]));
            bound.row(s.threads(), 8, fmt(wall[3] / wall[2], 2) + "x", fmt(50 * wall[3] / (4 * wall[2]), 2) + "x",
                    fmt(100 * 50 * wall[3] / (4 * wall[2]) / 25, 1) + " %", cpuBound(cpu[3], cpu[2]));
        }
        report.section("Per-run floor: the teacher's transformer alone, back to back");
        report.note("Spinning within runs; wall time median (p10–p90, n) in ms. A run that costs less than twice at"
                + " twice the batch has a per-run cost that the bigger run spreads.");
        report.table(t);
        report.note("The speedup a 4-step student can reach over a 50-step guided teacher when every run costs what it"
                + " costs here, back to back: 50 x t(2b) / (4 x t(b)). With one thread the caller's CPU time is the"
                + " whole run and other processes barely change it: the last column is the bound a quiet machine"
                + " would show.");
        report.table(bound);
    }

    private static String cpuBound(double teacherRun, double studentRun) {
        double b = 50 * teacherRun / (4 * studentRun);
        return fmt(b, 2) + "x (" + fmt(100 * b / 25, 1) + " %)";
    }

    // ------------------------------------------------------------------ pipeline calls

    /** The sessions of one model folder with one setting. */
    private final class Pipe implements AutoCloseable {
        final OrtSession text;
        final OrtSession transformer;
        final OrtSession decoder;
        final List<OrtSession.SessionOptions> options = new ArrayList<>();

        Pipe(Path folder, Setting s) throws OrtException {
            text = open(folder.resolve("text_encoder/model.onnx"), s);
            transformer = open(folder.resolve("transformer/model.onnx"), s);
            decoder = open(folder.resolve("vae_decoder/model.onnx"), s);
        }

        private OrtSession open(Path f, Setting s) throws OrtException {
            OrtSession.SessionOptions o = s.options();
            options.add(o);
            return env.createSession(f.toString(), o);
        }

        @Override
        public void close() throws OrtException {
            text.close();
            transformer.close();
            decoder.close();
            options.forEach(OrtSession.SessionOptions::close);
        }
    }

    /** One call of the bench's sequence: which model, how many steps, guided or not. */
    private record Step(boolean student, int steps) {
        String label() {
            return (student ? "student " : "teacher ") + steps + (student ? "" : " (CFG)");
        }
    }

    private void pipelines(Path teacherDir, Path studentDir, int rounds, Report report) throws Exception {
        List<Step> sequence = List.of(new Step(false, 50), new Step(false, 4), new Step(true, 4), new Step(true, 1));
        Map<Setting, Pipe[]> pipes = new LinkedHashMap<>();
        Map<Setting, Map<Step, List<long[]>>> runs = new LinkedHashMap<>();
        Map<Setting, Map<Step, List<long[]>>> cpus = new LinkedHashMap<>();
        Map<Setting, Map<Step, List<long[]>>> perCall = new LinkedHashMap<>(); // {process CPU, caller CPU, wall}
        try {
            for (Setting s : SETTINGS) {
                pipes.put(s, new Pipe[] {new Pipe(teacherDir, s), new Pipe(studentDir, s)});
                runs.put(s, new LinkedHashMap<>());
                cpus.put(s, new LinkedHashMap<>());
                perCall.put(s, new LinkedHashMap<>());
            }
            Random rnd = new Random(3);
            for (int r = -2; r < rounds; r++) {
                for (Setting s : SETTINGS) {
                    for (Step st : sequence) {
                        long p0 = processCpuNanos();
                        long c0 = THREADS.getCurrentThreadCpuTime();
                        long w0 = System.nanoTime();
                        long[][] perRun = call(pipes.get(s)[st.student() ? 1 : 0], st, rnd);
                        long[] whole = {processCpuNanos() - p0, THREADS.getCurrentThreadCpuTime() - c0, System.nanoTime() - w0};
                        if (r >= 0) {
                            perCall.get(s).computeIfAbsent(st, k -> new ArrayList<>()).add(whole);
                            runs.get(s).computeIfAbsent(st, k -> new ArrayList<>()).add(perRun[0]);
                            cpus.get(s).computeIfAbsent(st, k -> new ArrayList<>()).add(perRun[1]);
                        }
                    }
                    Thread.sleep(200);
                }
            }
        } finally {
            for (Pipe[] p : pipes.values()) {
                p[0].close();
                p[1].close();
            }
        }
        Table t = Table.of("setting", "call", "run 1 (ms)", "run 2", "run 3", "run 4", "runs 5..n (median)",
                "transformer runs / call (ms)", "caller CPU per run, runs 1 / 2 / 3 / 4 (ms)",
                "call: wall / caller CPU / CPU of all threads (ms)");
        Table speed = Table.of("setting", "teacher-50 loop (ms)", "student-4 loop (ms)", "speedup",
                "= % of the 25x evals ratio");
        for (Setting s : SETTINGS) {
            for (Step st : sequence) {
                List<long[]> calls = runs.get(s).get(st);
                List<Object> row = new ArrayList<>(List.of(s.label(), st.label()));
                for (int k = 0; k < 4; k++) {
                    int kk = k;
                    row.add(k < st.steps() ? Samples.ms(Samples.of(calls.stream().mapToLong(c -> c[kk]).toArray()).median()) : "—");
                }
                row.add(st.steps() > 4 ? Samples.ms(Samples.of(calls.stream()
                        .flatMapToLong(c -> Arrays.stream(c, 4, c.length)).toArray()).median()) : "—");
                row.add(Samples.ms(loop(calls)));
                List<long[]> cpu = cpus.get(s).get(st);
                StringBuilder c = new StringBuilder();
                for (int k = 0; k < Math.min(4, st.steps()); k++) {
                    int kk = k;
                    c.append(k == 0 ? "" : " / ").append(Samples.ms(Samples.of(cpu.stream().mapToLong(x -> x[kk]).toArray()).median()));
                }
                row.add(c.toString());
                List<long[]> w = perCall.get(s).get(st);
                row.add(Samples.ms(median(w, 2)) + " / " + Samples.ms(median(w, 1)) + " / " + Samples.ms(median(w, 0)));
                t.row(row.toArray());
            }
            double teacher = loop(runs.get(s).get(sequence.get(0)));
            double student = loop(runs.get(s).get(sequence.get(2)));
            speed.row(s.label(), Samples.ms(teacher), Samples.ms(student), fmt(teacher / student, 2) + "x",
                    fmt(100 * teacher / student / 25, 1) + " %");
        }
        report.section("Pipeline calls, batch 1: ORT time of each transformer run by step index");
        report.note(rounds + " rounds; medians over the calls. Each setting has its own sessions (text encoder,"
                + " transformer, decoder for the teacher and for the student).");
        report.table(t);
        report.table(speed);
    }

    private static double median(List<long[]> rows, int column) {
        return Samples.of(rows.stream().mapToLong(r -> r[column]).toArray()).median();
    }

    private static double loop(List<long[]> calls) {
        return Samples.of(calls.stream().mapToLong(c -> Arrays.stream(c).sum()).toArray()).median();
    }

    /**
     * Text encoder, the transformer runs (Euler steps on the latents, guided for the teacher), decoder.
     *
     * @return per transformer run: wall time, then the calling thread's CPU time
     */
    private long[][] call(Pipe p, Step st, Random rnd) throws OrtException {
        int batch = 1;
        int runBatch = st.student() ? batch : 2 * batch;
        float[][] cond = encode(p.text, runBatch, rnd);
        float[] x = new float[(int) elements(p.transformer, "hidden_states", batch)];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        long[] perRun = new long[st.steps()];
        long[] cpu = new long[st.steps()];
        for (int k = 0; k < st.steps(); k++) {
            float sigma = 1f - (float) k / st.steps();
            float next = 1f - (float) (k + 1) / st.steps();
            float[] in = x;
            if (!st.student()) {
                in = Arrays.copyOf(x, 2 * x.length);
                System.arraycopy(x, 0, in, x.length, x.length);
            }
            float[] v;
            Map<String, OnnxTensor> feed = feed(p.transformer, in, runBatch, sigma, cond);
            try {
                long c0 = THREADS.getCurrentThreadCpuTime();
                long t0 = System.nanoTime();
                try (OrtSession.Result r = p.transformer.run(feed)) {
                    perRun[k] = System.nanoTime() - t0;
                    cpu[k] = THREADS.getCurrentThreadCpuTime() - c0;
                    v = floats((OnnxTensor) r.get(0));
                }
            } finally {
                feed.values().forEach(OnnxTensor::close);
            }
            for (int i = 0; i < x.length; i++) {
                float vi = st.student() ? v[i] : v[i + x.length] + 3f * (v[i] - v[i + x.length]);
                x[i] += (next - sigma) * vi;
            }
        }
        String latent = p.decoder.getInputNames().iterator().next();
        long[] shape = shape(p.transformer, "hidden_states", batch);
        try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
             OrtSession.Result r = p.decoder.run(Map.of(latent, t))) {
            floats((OnnxTensor) r.get(0));
        }
        return new long[][] {perRun, cpu};
    }

    /** Token ids (a few words, then padding) through the text encoder: its outputs in declaration order. */
    private float[][] encode(OrtSession text, int batch, Random rnd) throws OrtException {
        Map<String, OnnxTensor> in = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, NodeInfo> e : text.getInputInfo().entrySet()) {
                long[] shape = withBatch(((TensorInfo) e.getValue().getInfo()).getShape(), batch);
                long[] v = new long[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
                int length = (int) shape[shape.length - 1];
                for (int i = 0; i < v.length; i++) {
                    boolean word = i % length < 6;
                    v[i] = e.getKey().contains("mask") ? (word ? 1 : 0) : (word ? 1 + rnd.nextInt(20) : 0);
                }
                in.put(e.getKey(), OnnxTensor.createTensor(env, LongBuffer.wrap(v), shape));
            }
            try (OrtSession.Result r = text.run(in)) {
                float[][] out = new float[r.size()][];
                for (int i = 0; i < r.size(); i++) {
                    out[i] = floats((OnnxTensor) r.get(i));
                }
                return out;
            }
        } finally {
            in.values().forEach(OnnxTensor::close);
        }
    }

    /** The transformer's inputs: the state, the text encoder's token and pooled outputs, the timestep. */
    private Map<String, OnnxTensor> feed(OrtSession transformer, float[] x, int batch, float sigma, float[][] cond)
            throws OrtException {
        Map<String, OnnxTensor> in = new LinkedHashMap<>();
        for (Map.Entry<String, NodeInfo> e : transformer.getInputInfo().entrySet()) {
            long[] shape = withBatch(((TensorInfo) e.getValue().getInfo()).getShape(), batch);
            float[] v = switch (e.getKey()) {
                case "hidden_states" -> x;
                case "encoder_hidden_states" -> cond[0];
                case "pooled_projections" -> cond[1];
                case "timestep" -> filled(batch, sigma);
                default -> new float[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
            };
            in.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(v), shape));
        }
        return in;
    }

    /** Gaussian inputs of the declared shapes with the batch filled in, and the timestep. */
    private Map<String, OnnxTensor> transformerInputs(OrtSession transformer, int batch, float sigma, Random rnd)
            throws OrtException {
        Map<String, OnnxTensor> in = new LinkedHashMap<>();
        for (Map.Entry<String, NodeInfo> e : transformer.getInputInfo().entrySet()) {
            long[] shape = withBatch(((TensorInfo) e.getValue().getInfo()).getShape(), batch);
            float[] v = new float[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
            if (e.getKey().equals("timestep")) {
                Arrays.fill(v, sigma);
            } else {
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) rnd.nextGaussian();
                }
            }
            in.put(e.getKey(), OnnxTensor.createTensor(env, FloatBuffer.wrap(v), shape));
        }
        return in;
    }

    private static long elements(OrtSession s, String input, int batch) throws OrtException {
        return Arrays.stream(shape(s, input, batch)).reduce(1, (a, b) -> a * b);
    }

    private static long[] shape(OrtSession s, String input, int batch) throws OrtException {
        return withBatch(((TensorInfo) s.getInputInfo().get(input).getInfo()).getShape(), batch);
    }

    private static long[] withBatch(long[] declared, int batch) {
        long[] s = declared.clone();
        for (int i = 0; i < s.length; i++) {
            if (s[i] < 0) {
                s[i] = batch;
            }
        }
        return s;
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        Arrays.fill(a, v);
        return a;
    }

    private static float[] floats(OnnxTensor t) {
        FloatBuffer b = t.getFloatBuffer();
        float[] v = new float[b.remaining()];
        b.get(v);
        return v;
    }

    private static String fmt(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
