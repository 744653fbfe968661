package io.senseflow.bench;

import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.OrtGenerator;
import io.senseflow.onnx.runtime.RunStatistics;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GenerationRequest;
import io.senseflow.pipeline.GenerationResult;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ProgressListener;
import io.senseflow.pipeline.StageTimings;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongSupplier;
import java.util.function.ToLongFunction;

/**
 * Sampling speed of a teacher and its student (ONNX Runtime, CPU): whole {@code generate} calls of the teacher at 50,
 * 25 and 4 steps and the student at 4, 2 and 1 steps, at batch 1 and 8. Every call also records the time each ONNX
 * Runtime session spent running ({@link RunStatistics}), which gives the SDK's overhead in the same call with the same
 * inputs: everything in {@code generate} that is not a session run.
 */
public final class SamplingBench {
    /** Prompts of the random folders' word-level tokenizer (unknown words cost the same). */
    static final List<String> PROMPTS = List.of("a red cat on the mat", "a blue dog in the snow",
            "a green tree and a house", "a photo of a fox", "an astronaut riding a horse", "the moon over the sea",
            "a small house in the snow", "a big red sunset over the sea");
    /** A call longer than this is measured once, whatever the repetitions asked. */
    static final double LONG_CALL_SECONDS = 45;

    /**
     * One configuration.
     *
     * @param student the student (else the teacher)
     * @param steps sampling steps
     * @param batch images per call (distinct prompts)
     * @param guided classifier-free guidance on (two transformer evaluations per step, batched as one run)
     * @param offAnchors fewer steps than the anchors the student was trained on
     */
    public record Case(boolean student, int steps, int batch, boolean guided, boolean offAnchors) {
        /** @return transformer evaluations per image: steps, twice with guidance */
        public int evaluationsPerImage() {
            return steps * (guided ? 2 : 1);
        }

        /** @return e.g. "teacher 50 (CFG)" or "student 2 (off anchors)" */
        public String label() {
            return (student ? "student " : "teacher ") + steps + (guided ? " (CFG)" : "") + (offAnchors ? " (off anchors)" : "");
        }
    }

    /**
     * What one call took, in nanoseconds.
     *
     * @param wall the whole {@code generate} call
     * @param timings the pipeline's own stage timings
     * @param sessions ONNX Runtime session runs per component ({@code transformer}, {@code text_encoder},
     *     {@code vae_decoder})
     * @param stepSessionNanos per sampling step, the time the transformer's session spent running in it (one run per
     *     step; with guidance the run has twice the batch)
     * @param sigmas the noise level each step starts at
     * @param cpu CPU time of the generating thread over the whole call
     */
    public record Call(long wall, StageTimings timings, Map<String, RunStatistics> sessions, long[] stepSessionNanos,
                       double[] sigmas, long cpu) {
        /** @return time inside ONNX Runtime session runs, all components */
        public long sessionNanos() {
            return sessions.values().stream().mapToLong(RunStatistics::sessionNanos).sum();
        }

        /** @return time inside {@code OrtModel.run}, all components */
        public long ortModelNanos() {
            return sessions.values().stream().mapToLong(RunStatistics::totalNanos).sum();
        }

        /** @param component a folder name such as {@code transformer} @return its statistics in this call */
        public RunStatistics component(String component) {
            return sessions.getOrDefault(component, RunStatistics.NONE);
        }

        /** @return (wall - session runs) / session runs */
        public double overhead() {
            return (double) (wall - sessionNanos()) / sessionNanos();
        }

        /**
         * @return the generating thread's CPU time outside ONNX Runtime's session runs (the SDK's own work: checks,
         *     copies, noise, scheduler, tokenizer, image conversion) over the session runs' wall time; unlike
         *     {@link #overhead()} it leaves out the time the thread waited for a core
         */
        public double cpuOverhead() {
            long inside = sessions.values().stream().mapToLong(RunStatistics::sessionCpuNanos).sum();
            return (double) (cpu - inside) / sessionNanos();
        }
    }

    /**
     * The calls of one case.
     *
     * @param c the case
     * @param calls the measured calls
     * @param gflopPerEvaluation floating-point work of one transformer evaluation of one image ({@link GraphFlops},
     *     products only), NaN where the graph could not be counted
     */
    public record Measured(Case c, List<Call> calls, double gflopPerEvaluation) {
        /** @param f a quantity of a call @return its samples over the calls */
        public Samples samples(ToLongFunction<Call> f) {
            return Samples.of(calls.stream().mapToLong(f).toArray());
        }

        /** @return wall time per call */
        public Samples wall() {
            return samples(Call::wall);
        }

        /** @return the denoising loop per call */
        public Samples denoise() {
            return samples(k -> k.timings().denoiseNanos());
        }

        /** @return transformer FLOPs of one call (evaluations x images x one evaluation's), in GFLOP */
        public double gflopPerCall() {
            return gflopPerEvaluation * c.evaluationsPerImage() * c.batch();
        }

        /** @return the transformer's session runs per call */
        public Samples transformerSession() {
            return samples(k -> k.component("transformer").sessionNanos());
        }
    }

    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();

    private final BenchSettings settings;

    /** @param settings threads, repetitions, progress */
    public SamplingBench(BenchSettings settings) {
        this.settings = settings;
    }

    /** @return the cases of the issue: teacher 50/25/4 with CFG, student 4/2/1, batch 1 and 8 */
    public static List<Case> standardCases(int[] batches) {
        List<Case> cases = new ArrayList<>();
        for (int b : batches) {
            for (int steps : new int[] {50, 25, 4}) {
                cases.add(new Case(false, steps, b, true, false));
            }
            for (int steps : new int[] {4, 2, 1}) {
                cases.add(new Case(true, steps, b, false, steps < ModelFolders.ANCHORS.length));
            }
        }
        return cases;
    }

    /**
     * The cases for the large model, where one teacher call at 50 steps takes minutes on two cores: batch 1 only,
     * the teacher at 50 and 4 steps and the student at 4, 2, 1 (the teacher at 25 steps lies on the line through 4 and
     * 50, the loop being linear in steps; batches are covered by the scaling suite).
     *
     * @return the cases
     */
    public static List<Case> largeCases() {
        return List.of(new Case(false, 50, 1, true, false), new Case(false, 4, 1, true, false),
                new Case(true, 4, 1, false, false), new Case(true, 2, 1, false, true), new Case(true, 1, 1, false, true));
    }

    /**
     * Measures every case: one warm-up call per model and batch, then the repetitions round-robin over the cases, so
     * that a change in the machine's load spreads over all of them.
     *
     * @param folders the teacher and student
     * @param cases what to run
     * @return the calls per case, in the order given
     */
    public List<Measured> run(ModelFolders folders, List<Case> cases) {
        LoadOptions options = LoadOptions.builder().sessionConfig(settings.sessionConfig(settings.threads())).build();
        Map<Case, List<Call>> calls = new LinkedHashMap<>();
        cases.forEach(c -> calls.put(c, new ArrayList<>()));
        try (LoadedModel teacher = Models.load(folders.teacher(), options);
             LoadedModel student = Models.load(folders.student(), options)) {
            if (teacher.guidanceMode() != GuidanceMode.CFG) {
                settings.log("note: the teacher's guidance mode is %s, not CFG", teacher.guidanceMode());
            }
            List<String> warmed = new ArrayList<>();
            for (Case c : cases) {
                String key = c.student() + "/" + c.batch();
                if (!warmed.contains(key)) {
                    warmed.add(key);
                    warmUp(c.student() ? student : teacher, new Case(c.student(), c.student() ? 1 : 2, c.batch(),
                            c.guided(), false));
                }
            }
            for (int rep = 0; rep < settings.reps(); rep++) {
                for (Case c : cases) {
                    List<Call> done = calls.get(c);
                    if (!done.isEmpty() && done.get(0).wall() > LONG_CALL_SECONDS * 1e9) {
                        continue;
                    }
                    Call k = call(c.student() ? student : teacher, c);
                    done.add(k);
                    settings.log("%s: %s, batch %d: %.0f ms", folders.name(), c.label(), c.batch(), k.wall() / 1e6);
                }
            }
        }
        double teacherGflop = gflopPerEvaluation(folders.teacher());
        double studentGflop = gflopPerEvaluation(folders.student());
        List<Measured> out = new ArrayList<>();
        calls.forEach((c, k) -> out.add(new Measured(c, k, c.student() ? studentGflop : teacherGflop)));
        return out;
    }

    /** The transformer's forward FLOPs for one image, or NaN when its graph is not one the counter can import. */
    private double gflopPerEvaluation(java.nio.file.Path folder) {
        try {
            return EngineBench.forwardGflop(io.senseflow.onnx.ir.OnnxModel.read(folder.resolve("transformer/model.onnx")), 1);
        } catch (RuntimeException e) {
            settings.log("note: no FLOP count for %s: %s", folder, e.getMessage());
            return Double.NaN;
        }
    }

    /** Until the JIT has compiled the SDK's paths and ONNX Runtime has sized its buffers: 3 calls at least. */
    private void warmUp(LoadedModel model, Case c) {
        long start = System.nanoTime();
        for (int i = 0; i < 3 || System.nanoTime() - start < settings.warmUpSeconds() * 1e9; i++) {
            call(model, c);
        }
    }

    private static Call call(LoadedModel model, Case c) {
        GenerationRequest.Builder req = GenerationRequest.builder().prompts(prompts(c.batch())).numInferenceSteps(c.steps())
                .seed(42);
        if (!c.student()) {
            req.guidanceScale(c.guided() ? ModelFolders.TEACHER_GUIDANCE : 1.0);
        }
        GenerationRequest request = req.build();
        LongSupplier transformer = transformerSessionNanos(model);
        long[] steps = new long[c.steps()];
        long[] last = {transformer.getAsLong()};
        ProgressListener perStep = s -> {
            long now = transformer.getAsLong();
            if (s.step() <= steps.length) {
                steps[s.step() - 1] = now - last[0];
            }
            last[0] = now;
        };
        Map<String, RunStatistics> before = model.runtime().statistics();
        long c0 = CPU.getCurrentThreadCpuTime();
        long t0 = System.nanoTime();
        GenerationResult r = model.pipeline().generate(request, perStep, CancellationToken.none());
        long wall = System.nanoTime() - t0;
        long cpu = CPU.getCurrentThreadCpuTime() - c0;
        Map<String, RunStatistics> after = model.runtime().statistics();
        Map<String, RunStatistics> diff = new LinkedHashMap<>();
        after.forEach((name, s) -> diff.put(component(name), s.minus(before.getOrDefault(name, RunStatistics.NONE))));
        if (r.images().size() != c.batch()) {
            throw new IllegalStateException("expected " + c.batch() + " images, got " + r.images().size());
        }
        double[] sigmas = r.settings().sigmas();
        return new Call(wall, r.timings(), diff, steps, Arrays.copyOf(sigmas, Math.min(sigmas.length, c.steps())), cpu);
    }

    /**
     * Reads the transformer's cumulative session time cheaply (one model's counters) where the generator is an
     * {@link OrtGenerator}, else through the runtime's statistics of every model.
     */
    private static LongSupplier transformerSessionNanos(LoadedModel model) {
        if (model.generator() instanceof OrtGenerator g) {
            return () -> g.model().statistics().sessionNanos();
        }
        return () -> model.runtime().statistics().entrySet().stream()
                .filter(e -> component(e.getKey()).equals("transformer"))
                .mapToLong(e -> e.getValue().sessionNanos()).sum();
    }

    static String component(String modelName) {
        int slash = modelName.indexOf('/');
        return slash < 0 ? modelName : modelName.substring(0, slash);
    }

    static List<String> prompts(int n) {
        List<String> p = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            p.add(PROMPTS.get(i % PROMPTS.size()));
        }
        return p;
    }

    // ------------------------------------------------------------------ tables

    /**
     * @param results the measured cases of one model pair
     * @return per case: evaluations, wall time per call and per image, images/s, stages, time per transformer run
     */
    public static Table speedTable(List<Measured> results) {
        Table t = Table.of("case", "batch", "transformer evals / image", "ORT transformer runs / call", "wall / call (ms)",
                "ms / image", "images / s", "text (ms)", "denoise loop (ms)", "decode (ms)", "ms / transformer run",
                "transformer GFLOP / call", "GFLOP/s in transformer runs");
        for (Measured m : results) {
            Case c = m.c();
            double wall = m.wall().median();
            double runs = m.calls().get(0).component("transformer").runs();
            t.row(c.label(), c.batch(), c.evaluationsPerImage(), (long) runs, m.wall().describeMs(),
                    Samples.ms(wall / c.batch()), fmt(c.batch() / (wall / 1e9), 2),
                    Samples.ms(m.samples(k -> k.timings().encodeNanos()).median()), Samples.ms(m.denoise().median()),
                    Samples.ms(m.samples(k -> k.timings().decodeNanos()).median()),
                    Samples.ms(m.transformerSession().median() / runs), EngineBench.sig(m.gflopPerCall()),
                    EngineBench.sig(m.gflopPerCall() / (m.transformerSession().median() / 1e9)));
        }
        return t;
    }

    /**
     * @param results the measured cases
     * @return student-4 against teacher-50 per batch: the evaluation ratio, the speedup of the denoising loop alone and
     *     of the whole call
     */
    public static Table speedupTable(List<Measured> results) {
        Table t = Table.of("batch", "evals ratio (teacher 50 CFG / student 4)", "denoise-loop speedup",
                "= % of evals ratio (goal >= 90 %)", "transformer-runs-only speedup", "end-to-end speedup",
                "transformer runs, calling thread's CPU: speedup (= %)");
        for (Measured s : results) {
            if (!s.c().student() || s.c().steps() != 4) {
                continue;
            }
            for (Measured te : results) {
                if (te.c().student() || te.c().steps() != 50 || te.c().batch() != s.c().batch()) {
                    continue;
                }
                double ratio = (double) te.c().evaluationsPerImage() / s.c().evaluationsPerImage();
                double loop = te.denoise().median() / s.denoise().median();
                double runs = te.transformerSession().median() / s.transformerSession().median();
                double e2e = te.wall().median() / s.wall().median();
                double cpu = te.samples(k -> k.component("transformer").sessionCpuNanos()).median()
                        / s.samples(k -> k.component("transformer").sessionCpuNanos()).median();
                t.row(s.c().batch(), fmt(ratio, 1), fmt(loop, 2) + "x", fmt(100 * loop / ratio, 1) + " %",
                        fmt(runs, 2) + "x", fmt(e2e, 2) + "x", fmt(cpu, 2) + "x (" + fmt(100 * cpu / ratio, 1) + " %)");
            }
        }
        return t;
    }

    /** Steps shown one by one in {@link #stepTable}; later ones are summarised. */
    static final int STEPS_SHOWN = 4;

    /**
     * Where a call's transformer time goes, step by step: a run that costs more in short calls than in long ones, or
     * more at some noise levels than at others, shows here (docs/performance.md, "The few-step promise on an AMD EPYC").
     *
     * @param results the measured cases
     * @return per case: the noise level and the ORT time of the transformer run at steps 1 to 4 (medians over the
     *     calls), then the median of the later steps and the last step
     */
    public static Table stepTable(List<Measured> results) {
        List<String> header = new ArrayList<>(List.of("case", "batch", "run batch"));
        for (int k = 1; k <= STEPS_SHOWN; k++) {
            header.add("step " + k + ": sigma, ms");
        }
        header.addAll(List.of("steps 5..n (median, ms)", "last step (ms)", "step 1 / median of the rest"));
        Table t = Table.of(header.toArray(String[]::new));
        for (Measured m : results) {
            Case c = m.c();
            List<Object> row = new ArrayList<>(List.of(c.label(), c.batch(), c.guided() ? 2 * c.batch() : c.batch()));
            for (int k = 0; k < STEPS_SHOWN; k++) {
                if (k >= c.steps()) {
                    row.add("—");
                    continue;
                }
                int kk = k;
                row.add(fmt(m.calls().get(0).sigmas()[k], 3) + ", " + Samples.ms(m.samples(x -> x.stepSessionNanos()[kk]).median()));
            }
            row.add(c.steps() > STEPS_SHOWN ? Samples.ms(stepMedian(m, STEPS_SHOWN, c.steps())) : "—");
            row.add(Samples.ms(m.samples(x -> x.stepSessionNanos()[c.steps() - 1]).median()));
            row.add(c.steps() > 1 ? fmt(m.samples(x -> x.stepSessionNanos()[0]).median() / stepMedian(m, 1, c.steps()), 2) : "—");
            t.row(row.toArray());
        }
        return t;
    }

    /** The median over the calls and over steps {@code from} (inclusive) to {@code to} (exclusive), 0-based. */
    private static double stepMedian(Measured m, int from, int to) {
        return Samples.of(m.calls().stream().flatMapToLong(x -> Arrays.stream(x.stepSessionNanos(), from, to)).toArray())
                .median();
    }

    /**
     * @param results the measured cases
     * @return per case: the SDK's time outside ONNX Runtime as a share of the session runs, and where it goes
     */
    public static Table overheadTable(List<Measured> results) {
        Table t = Table.of("case", "batch", "wall / call (ms)", "ORT session runs (ms)", "SDK overhead",
                "SDK overhead, CPU time",
                "boundary: checks + conversions (ms)", "loop: scheduler, noise, guidance (ms)",
                "text: tokenizer + glue (ms)", "decode: latents to images (ms)", "rest (ms)");
        for (Measured m : results) {
            Case c = m.c();
            double boundary = m.samples(k -> k.ortModelNanos() - k.sessionNanos()).median();
            double loop = m.samples(k -> k.timings().denoiseNanos() - k.component("transformer").totalNanos()).median();
            double text = m.samples(k -> k.timings().encodeNanos() - k.component("text_encoder").totalNanos()).median();
            double decode = m.samples(k -> k.timings().decodeNanos() - k.component("vae_decoder").totalNanos()).median();
            double rest = m.samples(k -> k.wall() - k.timings().totalNanos()).median();
            double overhead = median(m.calls().stream().mapToDouble(Call::overhead).toArray());
            double cpuOverhead = median(m.calls().stream().mapToDouble(Call::cpuOverhead).toArray());
            t.row(c.label(), c.batch(), Samples.ms(m.wall().median()), Samples.ms(m.samples(Call::sessionNanos).median()),
                    fmt(100 * overhead, 2) + " %", fmt(100 * cpuOverhead, 2) + " %", Samples.ms(boundary), Samples.ms(loop), Samples.ms(text),
                    Samples.ms(decode), Samples.ms(rest));
        }
        return t;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    static String fmt(double v, int decimals) {
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }
}
