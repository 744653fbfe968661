package io.senseflow.bench;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * Runs the benchmark suites of a {@link Plan} and writes one Markdown report: the machine and its load before and
 * after, then a section per suite. See docs/performance.md for what each table means.
 */
public final class BenchHarness {
    /** The suites. */
    public enum Suite {
        /** Teacher and student generate calls: time per image, images/s, evaluations, speedups. */
        SAMPLING,
        /** The SDK's time outside ONNX Runtime in those calls (needs SAMPLING's calls; runs them if needed). */
        OVERHEAD,
        /** Distillation iteration by phase against a flow-matching step. */
        DISTILLATION,
        /** Sampling step and training step as image tokens and batch grow. */
        SCALING,
        /** 1 vs 2 intra-op threads in ONNX Runtime and TensorFlow. */
        THREADS;

        /** @param id a suite name, any case @return the suite */
        public static Suite of(String id) {
            return valueOf(id.strip().toUpperCase(Locale.ROOT));
        }
    }

    /**
     * What to measure.
     *
     * @param suites which suites
     * @param sampling model pairs for the sampling and overhead suites, each with its cases
     * @param distillation models for the distillation suite, each with its batch, cycles and flow-matching steps
     * @param scalingTokens models of growing token count for the scaling suite
     * @param scalingBatches batch sizes for the scaling suite's batch rows (at the middle token count)
     * @param threadsModels models whose steps compare thread counts
     * @param engineReps measured calls per engine point
     * @param stepCostModels models whose input sizes the per-step cost table uses
     * @param stepCostBatches batch sizes of that table
     * @param stepCostCalls measured calls per operation there
     */
    public record Plan(Set<Suite> suites, List<SamplingSet> sampling,
                       List<DistillCase> distillation,
                       List<ModelSpec> scalingTokens, int[] scalingBatches, List<DistillCase> threadsModels, int engineReps,
                       List<ModelSpec> stepCostModels, int[] stepCostBatches, int stepCostCalls) {
        /** Copies the lists. */
        public Plan {
            suites = Set.copyOf(suites);
            sampling = List.copyOf(sampling);
            distillation = List.copyOf(distillation);
            scalingTokens = List.copyOf(scalingTokens);
            threadsModels = List.copyOf(threadsModels);
            stepCostModels = List.copyOf(stepCostModels);
        }
    }

    /**
     * A teacher and student pair with the sampling cases to measure on it.
     *
     * @param folders the models
     * @param cases the cases
     */
    public record SamplingSet(ModelFolders folders, List<SamplingBench.Case> cases) {
        /** Copies the list. */
        public SamplingSet {
            cases = List.copyOf(cases);
        }
    }

    /**
     * A model at a batch size.
     *
     * @param spec the model
     * @param batch the batch
     * @param cycles measured TTUR cycles per distillation recipe
     * @param flowMatchingSteps measured flow-matching steps
     */
    public record DistillCase(ModelSpec spec, int batch, int cycles, int flowMatchingSteps) {
        /** A case for the threads suite, which uses only the model and batch. */
        DistillCase(ModelSpec spec, int batch) {
            this(spec, batch, 1, 1);
        }
    }

    private final BenchSettings settings;

    /** @param settings threads, repetitions, work folder, progress */
    public BenchHarness(BenchSettings settings) {
        this.settings = Objects.requireNonNull(settings);
    }

    /**
     * The standard plan: the Shapes models (bundled when given, else Shapes-sized random ones) and the large in-house
     * model, as the issue lists them.
     *
     * @param suites which suites
     * @param shapes the Shapes teacher and student folders, or null for Shapes-sized random ones
     * @param small include the Shapes models
     * @param large include the large in-house model (long: tens of minutes on two cores)
     * @return the plan
     */
    public Plan standardPlan(Set<Suite> suites, ModelFolders shapes, boolean small, boolean large) {
        List<SamplingSet> sampling = new ArrayList<>();
        List<DistillCase> distill = new ArrayList<>();
        List<DistillCase> threads = new ArrayList<>();
        List<ModelSpec> stepCost = new ArrayList<>();
        if (small) {
            sampling.add(new SamplingSet(shapes != null ? shapes
                    : ModelFolders.random(ModelSpec.shapesSized(), settings.workDir()), SamplingBench.standardCases(new int[] {1, 8})));
            ModelSpec spec = shapesSpec(shapes);
            distill.add(new DistillCase(spec, 16, 2, 16));
            threads.add(new DistillCase(spec, 16));
            stepCost.add(spec);
        }
        if (large) {
            sampling.add(new SamplingSet(ModelFolders.random(ModelSpec.large(), settings.workDir()),
                    SamplingBench.largeCases()));
            distill.add(new DistillCase(ModelSpec.large(), 1, 1, 6)); // seconds per iteration: one cycle
            threads.add(new DistillCase(ModelSpec.large(), 1));
            stepCost.add(ModelSpec.large());
        }
        List<ModelSpec> scaling = List.of(ModelSpec.dit("dit-256", 32, 384, 8, 6), ModelSpec.large(),
                ModelSpec.dit("dit-4096", 128, 384, 8, 6));
        return new Plan(suites, sampling, distill, scaling, new int[] {1, 2, 4}, threads, 5,
                stepCost, new int[] {1, 16}, 2000);
    }

    /**
     * The architectures the single-step benchmarks (distillation, threads, step costs) use for the small model: the
     * Shapes folder's own when its graphs say what they are, else the Shapes demo's default sizes.
     */
    private ModelSpec shapesSpec(ModelFolders shapes) {
        if (shapes == null) {
            return ModelSpec.shapesSized();
        }
        try {
            return ModelSpec.fromFolder("shapes", shapes.teacher());
        } catch (RuntimeException e) {
            settings.log("note: %s; the single-step benchmarks use the Shapes default sizes instead", e.getMessage());
            return ModelSpec.shapesSized();
        }
    }

    /**
     * Tiny sizes for a smoke run of every code path (seconds; the numbers mean nothing).
     *
     * @param suites which suites
     * @return the plan
     */
    public Plan smokePlan(Set<Suite> suites) {
        ModelSpec tiny = ModelSpec.tiny();
        return new Plan(suites, List.of(new SamplingSet(ModelFolders.random(tiny, settings.workDir()),
                        SamplingBench.standardCases(new int[] {1, 2}))),
                List.of(new DistillCase(tiny, 2, 1, 2)), List.of(tiny), new int[] {1, 2},
                List.of(new DistillCase(tiny, 2)), 2, List.of(tiny), new int[] {1}, 20);
    }

    /**
     * Runs the plan.
     *
     * @param plan what to measure
     * @param report where the tables go
     */
    public void run(Plan plan, Report report) {
        report.note("Machine: " + Machine.describe() + ". Load average (1, 5, 15 min) at the start: " + Machine.load()
                + ". ONNX Runtime provider " + settings.provider() + "; ONNX Runtime and TensorFlow intra-op threads: "
                + settings.threads() + " (inter-op 1), idle ONNX Runtime workers spinning: " + settings.spin().id()
                + ", unless a table"
                + " says otherwise; repetitions: " + settings.reps() + ".");
        Machine.Cpu cpu = Machine.cpu();
        if (!cpu.flags().isEmpty()) {
            report.note("CPU flags (/proc/cpuinfo, first processor): " + String.join(" ", cpu.flags()) + ".");
        }
        Set<Suite> s = EnumSet.noneOf(Suite.class);
        s.addAll(plan.suites());
        if (s.contains(Suite.SAMPLING) || s.contains(Suite.OVERHEAD)) {
            sampling(plan, s, report);
        }
        if (s.contains(Suite.DISTILLATION)) {
            distillation(plan, report);
        }
        if (s.contains(Suite.SCALING)) {
            scaling(plan, report);
        }
        if (s.contains(Suite.THREADS)) {
            threads(plan, report);
        }
        report.note("Load average at the end: " + Machine.load() + ".");
    }

    private void sampling(Plan plan, Set<Suite> suites, Report report) {
        SamplingBench bench = new SamplingBench(settings);
        List<List<SamplingBench.Measured>> all = new ArrayList<>();
        List<Long> peaks = new ArrayList<>();
        for (SamplingSet set : plan.sampling()) {
            ModelFolders f = set.folders();
            PeakRss.reset();
            settings.log("sampling: %s", f.name());
            all.add(bench.run(f, set.cases()));
            peaks.add(PeakRss.peakBytes());
        }
        if (suites.contains(Suite.SAMPLING)) {
            report.section("Sampling (ONNX Runtime, CPU)");
            for (int i = 0; i < all.size(); i++) {
                ModelFolders f = plan.sampling().get(i).folders();
                report.subsection(f.name());
                report.note("Teacher `" + f.teacher() + "`, student `" + f.student() + "`. Peak RSS of the process while"
                        + " sampling: " + PeakRss.mib(peaks.get(i)) + ".");
                report.table(SamplingBench.speedTable(all.get(i)));
                report.table(SamplingBench.speedupTable(all.get(i)));
                report.note("The last column compares the CPU time the generating thread spent inside the transformer's"
                        + " session runs: with one intra-op thread that is all of ONNX Runtime's work, and other"
                        + " processes on the machine barely change it, so it is what a quiet machine's wall time would"
                        + " show; with more threads the workers' share is not in it.");
                report.note("ONNX Runtime time of the transformer run at each step (medians over the calls; the"
                        + " noise level is the one the step starts at). Runs of one size should cost the same at every"
                        + " step and in every case; where the first steps or the short calls cost more, something"
                        + " outside the run (other threads, the machine) is in the way.");
                report.table(SamplingBench.stepTable(all.get(i)));
            }
        }
        if (suites.contains(Suite.OVERHEAD)) {
            report.section("SDK overhead in generate calls");
            report.note("SDK overhead = (wall time of `generate` - time inside ONNX Runtime's `OrtSession.run`) / time"
                    + " inside `OrtSession.run`, the same call with the same inputs (`OrtModel.statistics()`). Under load"
                    + " that includes the time the generating thread waited for a core; the CPU-time column counts only"
                    + " what the generating thread computed outside the session runs (its CPU time over the call minus"
                    + " its CPU time inside `OrtSession.run`), over the same session time.");
            for (int i = 0; i < all.size(); i++) {
                report.subsection(plan.sampling().get(i).folders().name());
                report.table(SamplingBench.overheadTable(all.get(i)));
            }
            report.subsection("Per-step costs of the SDK (CPU time of the calling thread)");
            report.note("CPU time, not wall time, so that other processes on the machine inflate it little. The call"
                    + " boundary is measured on a graph with the transformer's inputs and output that only sums them;"
                    + " the raw row is the least any caller of ONNX Runtime's Java API does (tensors from arrays).");
            report.table(new StepCostBench(settings).run(plan.stepCostModels(), plan.stepCostBatches(), plan.stepCostCalls()));
        }
    }

    private void distillation(Plan plan, Report report) {
        DistillationBench bench = new DistillationBench(settings);
        List<DistillationBench.Comparison> all = new ArrayList<>();
        report.section("Distillation iteration vs flow-matching step (TensorFlow G, F, D; ONNX Runtime teacher)");
        for (DistillCase c : plan.distillation()) {
            settings.log("distillation: %s batch %d", c.spec().name(), c.batch());
            DistillationBench.Comparison cmp = bench.run(c.spec(), c.batch(), c.cycles(), c.flowMatchingSteps());
            all.add(cmp);
            report.subsection(c.spec().describe() + ", batch " + c.batch());
            report.table(DistillationBench.phaseTable(cmp));
            report.note("Flow-matching step measured alone: " + cmp.flowMatching().describeMs() + ", peak RSS "
                    + PeakRss.mib(cmp.flowMatchingPeakRss()) + ". The ratios use the flow-matching steps measured one"
                    + " after each distillation iteration, in the same process, so that load changes fall on both.");
        }
        report.subsection("Ratios");
        report.table(DistillationBench.ratioTable(all));
    }

    private void scaling(Plan plan, Report report) {
        EngineBench bench = new EngineBench(settings);
        int[] one = {settings.threads()};
        List<EngineBench.Point> ortTokens = new ArrayList<>();
        List<EngineBench.Point> tfTokens = new ArrayList<>();
        for (ModelSpec m : plan.scalingTokens()) {
            ortTokens.addAll(bench.ortForward(m, 1, one, plan.engineReps()));
            tfTokens.addAll(bench.tfTrainStep(m, 1, one, plan.engineReps()));
        }
        ModelSpec mid = plan.scalingTokens().get(plan.scalingTokens().size() / 2);
        List<EngineBench.Point> ortBatch = new ArrayList<>();
        List<EngineBench.Point> tfBatch = new ArrayList<>();
        for (int b : plan.scalingBatches()) {
            if (b == 1) { // measured with the token counts
                ortBatch.add(ortTokens.get(plan.scalingTokens().size() / 2));
                tfBatch.add(tfTokens.get(plan.scalingTokens().size() / 2));
                continue;
            }
            ortBatch.addAll(bench.ortForward(mid, b, one, plan.engineReps()));
            tfBatch.addAll(bench.tfTrainStep(mid, b, one, plan.engineReps()));
        }
        report.section("Scaling with image tokens and batch");
        report.subsection("Sampling step (ONNX Runtime forward, no guidance)");
        report.table(EngineBench.table("forward", ortTokens));
        report.table(EngineBench.table("forward", ortBatch));
        report.subsection("Training step (TensorFlow flow matching: forward, backward, clip, AdamW)");
        report.table(EngineBench.table("training step", tfTokens));
        report.table(EngineBench.table("training step", tfBatch));
    }

    private void threads(Plan plan, Report report) {
        EngineBench bench = new EngineBench(settings);
        int[] both = {1, 2};
        List<EngineBench.Point> ort = new ArrayList<>();
        List<EngineBench.Point> tf = new ArrayList<>();
        for (DistillCase c : plan.threadsModels()) {
            ort.addAll(bench.ortForward(c.spec(), c.batch(), new int[] {1, 2, 2}, new boolean[] {true, true, false},
                    plan.engineReps()));
            tf.addAll(bench.tfTrainStep(c.spec(), c.batch(), both, plan.engineReps()));
        }
        report.section("Intra-op threads: 1 vs 2");
        report.note("The settings of a model are measured alternately, call by call, in one process. ONNX Runtime also"
                + " with 2 threads whose idle workers sleep instead of spinning (SessionConfig.allowSpinning(false)).");
        report.table(EngineBench.table("ORT forward", ort));
        report.table(EngineBench.table("TF training step", tf));
    }
}
