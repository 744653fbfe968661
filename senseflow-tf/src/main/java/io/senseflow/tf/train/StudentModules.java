package io.senseflow.tf.train;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.ModuleGenerator;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * The generator G and the fake score F of a distillation run, derived from the teacher's ONNX graph (docs/algorithm.md §4):
 * two trainable TensorFlow modules over the same graph with separate variables, both initialised from the teacher's
 * weights, in one {@link TfWorkspace} (so IDA and EMA blend in the graph). Teacher-only inputs (FLUX's
 * {@code guidance}) are bound to a constant or removed ({@link TeacherGraphs}); {@link #studentGraph()} is the edited
 * graph, which is also what a trained student is exported against. Optionally an EMA copy (frozen module of G's
 * architecture) and the teacher itself as a frozen TensorFlow module; the alternative is the teacher in ONNX Runtime
 * (an {@code OrtGenerator} over the original graph), which needs no TensorFlow memory for gradients and runs
 * ONNX Runtime's faster inference kernels.
 *
 * <p>Before anything is imported, {@link Builder#build()} estimates the run's memory ({@link #estimate()}) and
 * refuses a configuration that does not fit the budget (by default {@link MemoryBudget#detect()}).
 *
 * <p>Owns its modules, and its workspace unless one was given; close it when the run is over.
 *
 * <p>Not thread-safe: the modules belong to one training loop, driven from one thread.
 */
public final class StudentModules implements AutoCloseable {
    private final OnnxModel studentGraph;
    private final TfWorkspace workspace;
    private final boolean ownsWorkspace;
    private final TfModule generator;
    private final TfModule fakeScore;
    private final TfModule ema;
    private final TfModule teacherModule;
    private final Generator teacher;
    private final MemoryEstimate estimate;
    /**
     * Kinds of session run over G's and F's graphs in a distillation run (forward, backward forms, updates), for the
     * memory estimate's graph term: fitted to the flux_dev and sdxl fixtures' measured peaks, checked on sd3
     * (docs/distillation.md).
     */
    public static final int TRAINED_RUN_KINDS = 5;
    private final io.senseflow.tf.lora.LoraGraph lora;
    private final io.senseflow.tf.lora.SharedBase sharedBase;
    private boolean trainBuffers;

    private StudentModules(Builder b, OnnxModel student, DenoiserSpec studentSpec, MemoryEstimate estimate,
                           io.senseflow.tf.lora.LoraGraph lora) {
        this.studentGraph = student;
        this.lora = lora;
        this.estimate = estimate;
        this.ownsWorkspace = b.workspace == null;
        this.workspace = ownsWorkspace ? TfWorkspace.create(b.sessionOptions) : b.workspace;
        List<TfModule> made = new ArrayList<>();
        try {
            ImportOptions trainable;
            if (lora != null) {
                java.util.Set<String> adapters = lora.adapterNames();
                // one frozen base for G, F and the EMA; each module holds only its adapters
                boolean bf16 = lora.config().bfloat16Base();
                this.sharedBase = io.senseflow.tf.lora.SharedBase.create(workspace, student, adapters::contains, bf16);
                trainable = b.shapes(student, ImportOptions.builder().trainable(adapters::contains, "LoRA adapters ("
                        + adapters.size() + ")").sharedInitializers(sharedBase.reads()).computeBfloat16(bf16).build());
            } else {
                this.sharedBase = null;
                trainable = b.shapes(student, b.trainable == null
                        ? ImportOptions.defaults() : ImportOptions.builder().trainablePattern(b.trainable).build());
            }
            this.trainBuffers = b.trainBuffers;
            this.generator = add(made, module(student, studentSpec, "generator", trainable, b.generatorOptimizer));
            this.fakeScore = add(made, module(student, studentSpec, "fake_score", trainable, b.fakeScoreOptimizer));
            this.ema = b.ema ? add(made, module(student, studentSpec, "ema", trainable, null)) : null;
            if (b.teacherFormat != null) {
                boolean bf16Teacher = lora != null && lora.config().bfloat16Base();
                ImportOptions frozen = b.shapes(b.teacher, ImportOptions.builder().frozen()
                        .computeBfloat16(bf16Teacher).build());
                this.teacherModule = add(made, module(b.teacher, b.spec, "teacher", frozen, null));
                this.teacher = new ModuleGenerator(teacherModule, b.teacherFormat);
            } else {
                this.teacherModule = null;
                this.teacher = null;
            }
        } catch (RuntimeException e) {
            made.forEach(TfModule::close);
            if (ownsWorkspace) {
                workspace.close();
            }
            throw e;
        }
    }

    private static TfModule add(List<TfModule> made, TfModule m) {
        made.add(m);
        return m;
    }

    private TfModule module(OnnxModel graph, DenoiserSpec spec, String name, ImportOptions options, AdamWConfig opt) {
        return spec.applyTo(TfModule.builder(graph).name(name).workspace(workspace).importOptions(options).optimizer(opt)
                .specialisePerShape(true).trainBuffers(trainBuffers)).build();
    }

    /**
     * @param teacher the teacher's graph
     * @param spec how its inputs map onto the module contract
     * @return a builder
     */
    public static Builder builder(OnnxModel teacher, DenoiserSpec spec) {
        return new Builder(teacher, spec);
    }

    /** @return the generator G (trainable) */
    public TfModule generator() {
        return generator;
    }

    /** @return the fake score F (trainable, same architecture as G) */
    public TfModule fakeScore() {
        return fakeScore;
    }

    /** @return the EMA copy of G (frozen module; give its parameters to the distiller), or null */
    public TfModule ema() {
        return ema;
    }

    /** @return the teacher as a frozen TensorFlow module behind the {@link Generator} interface, or null */
    public Generator teacher() {
        return teacher;
    }

    /** @return the teacher's module, or null */
    public TfModule teacherModule() {
        return teacherModule;
    }

    /** @return the graph G and F run: the teacher's with teacher-only inputs bound or removed */
    public OnnxModel studentGraph() {
        return studentGraph;
    }

    /** @return the workspace the modules live in */
    public TfWorkspace workspace() {
        return workspace;
    }

    /** @return the adapters of a LoRA run (G, F and the EMA train these only), or null for full distillation */
    public io.senseflow.tf.lora.LoraGraph lora() {
        return lora;
    }

    /** @return the frozen base G, F and the EMA share in a LoRA run, or null */
    public io.senseflow.tf.lora.SharedBase sharedBase() {
        return sharedBase;
    }

    /** @return the memory estimate the run was admitted with */
    public MemoryEstimate estimate() {
        return estimate;
    }

    @Override
    public void close() {
        for (TfModule m : new TfModule[] {generator, fakeScore, ema, teacherModule}) {
            if (m != null) {
                m.close();
            }
        }
        if (ownsWorkspace) {
            workspace.close();
        }
    }

    /** Builder of {@link StudentModules}. */
    public static final class Builder {
        private final OnnxModel teacher;
        private final DenoiserSpec spec;
        private final Map<String, Float> constants = new LinkedHashMap<>();
        private final List<String> removed = new ArrayList<>();
        private int batchSize = 1;
        private AdamWConfig generatorOptimizer = AdamWConfig.released();
        private AdamWConfig fakeScoreOptimizer = AdamWConfig.released();
        private String trainable;
        private boolean ema;
        private LatentFormat teacherFormat;
        private int teacherBatchFactor = 1;
        private TfWorkspace workspace;
        private TfSessionOptions sessionOptions = TfSessionOptions.defaults().withGraphOptimizations(false);
        private MemoryBudget budget;
        private Consumer<MemoryEstimate.Builder> moreEstimate = e -> { };
        private boolean trainBuffers;
        private boolean tieShared;
        private final Map<String, long[]> inputShapes = new LinkedHashMap<>();
        private final Map<String, long[]> estimateShapes = new LinkedHashMap<>();
        private final Map<String, io.senseflow.onnx.ir.TensorValue> constantInputs = new LinkedHashMap<>();
        private io.senseflow.tf.lora.LoraConfig loraConfig;
        private long loraSeed;
        /** The last {@link #estimate()} and the graph it was made on, until a setter changes anything. */
        private Estimated estimated;

        /** An estimate, the student graph it counted and its adapters (null without LoRA). */
        private record Estimated(MemoryEstimate estimate, OnnxModel student, io.senseflow.tf.lora.LoraGraph lora) {
        }

        private Builder(OnnxModel teacher, DenoiserSpec spec) {
            this.teacher = Objects.requireNonNull(teacher, "teacher");
            this.spec = Objects.requireNonNull(spec, "spec");
        }

        /** @param n the run's batch size (import shapes and the memory estimate) @return this */
        public Builder batchSize(int n) {
            if (n < 1) {
                throw InvalidRequestException.of("batchSize", "at least 1", n);
            }
            batchSize = n;
            return changed();
        }

        /**
         * @param input a teacher input G and F do not take (e.g. {@code "guidance"})
         * @param value the constant it is bound to in G and F
         * @return this
         */
        public Builder bindConstant(String input, float value) {
            constants.put(input, value);
            return changed();
        }

        /** @param input a teacher input no node reads, removed in G and F @return this */
        public Builder removeInput(String input) {
            removed.add(input);
            return changed();
        }

        /** @param c G's AdamW settings @return this */
        public Builder generatorOptimizer(AdamWConfig c) {
            generatorOptimizer = Objects.requireNonNull(c);
            return changed();
        }

        /** @param c F's AdamW settings @return this */
        public Builder fakeScoreOptimizer(AdamWConfig c) {
            fakeScoreOptimizer = Objects.requireNonNull(c);
            return changed();
        }

        /** @param regex train only initializers whose name matches (find); default all @return this */
        public Builder trainablePattern(String regex) {
            Pattern.compile(regex);
            trainable = regex;
            return changed();
        }

        /**
         * @param on train the teacher graph's initializers that were buffers of the source model (fixed sin-cos position
         *     tables, see {@code ModelBuffers}); default false: they stay frozen, as PyTorch keeps them
         * @return this
         */
        public Builder trainBuffers(boolean on) {
            trainBuffers = on;
            return changed();
        }

        /**
         * Fixes a graph input's shape for the import and the memory estimate (optional: modules import their graph at
         * the shapes they are called with when the graph's sizes are symbolic).
         *
         * @param graphInput a graph input name
         * @param dims its shape; -1 in the first place is the run's batch size, -1 elsewhere stays symbolic
         * @return this
         */
        public Builder inputShape(String graphInput, long... dims) {
            inputShapes.put(Objects.requireNonNull(graphInput), dims.clone());
            return changed();
        }

        /**
         * Fixes a graph input's shape for the memory estimate only (the modules still import at the shapes they are
         * called with): a graph whose sizes are symbolic then has its activations counted in advance. An
         * {@link #inputShape} of the same input wins.
         *
         * @param graphInput a graph input name (ignored when the graph has no such input)
         * @param dims its shape; -1 in the first place is the run's batch size
         * @return this
         */
        public Builder estimateShape(String graphInput, long... dims) {
            estimateShapes.put(Objects.requireNonNull(graphInput), dims.clone());
            return changed();
        }

        /**
         * Binds a graph input to a tensor known at import (in G, F and a TensorFlow teacher; the graph itself, and so
         * the exported student, keeps the input): everything that depends only on it is evaluated at import.
         *
         * @param graphInput the graph input
         * @param value its value, of the input's type and shape
         * @return this
         */
        public Builder constantInput(String graphInput, io.senseflow.onnx.ir.TensorValue value) {
            constantInputs.put(Objects.requireNonNull(graphInput), Objects.requireNonNull(value));
            return changed();
        }

        /**
         * FLUX's {@code img_ids} and {@code txt_ids} bound to constants for one latent size ({@link FluxIds}); the
         * modules then serve that size (other sizes need modules built for them).
         *
         * @param latentHeight latent rows (image height / 8)
         * @param latentWidth latent columns
         * @param textLength text tokens
         * @return this
         */
        public Builder fluxIds(int latentHeight, int latentWidth, int textLength) {
            constantInput("img_ids", FluxIds.imageIds(latentHeight, latentWidth));
            return constantInput("txt_ids", FluxIds.textIds(textLength));
        }

        /**
         * @param on keep parameters that PyTorch's exporter deduplicated into {@code Identity(initializer)} nodes tied
         *     (one variable per initializer, gradients summed), so that the trained weights are exactly the original
         *     graph's initializers and {@code OnnxExport.writeSafetensors} fits the original file; default false:
         *     untied, each its own parameter as in PyTorch
         * @return this
         */
        public Builder tieSharedParameters(boolean on) {
            tieShared = on;
            return changed();
        }

        private ImportOptions shapes(OnnxModel graph, ImportOptions base) {
            ImportOptions.Builder pre = base.toBuilder();
            if (tieShared) {
                pre.untieSharedParameters(false);
            }
            java.util.Set<String> inputs = new java.util.HashSet<>();
            graph.graph().inputs().forEach(v -> inputs.add(v.name()));
            for (Map.Entry<String, io.senseflow.onnx.ir.TensorValue> e : constantInputs.entrySet()) {
                if (inputs.contains(e.getKey())) {
                    pre.constantInput(e.getKey(), e.getValue());
                }
            }
            ImportOptions.Builder o = DenoiserSpec.batchShapes(graph, batchSize, pre.build()).toBuilder();
            for (Map.Entry<String, long[]> e : inputShapes.entrySet()) {
                if (graph.graph().inputs().stream().anyMatch(v -> v.name().equals(e.getKey()))) {
                    long[] d = e.getValue().clone();
                    if (d.length > 0 && d[0] < 0) {
                        d[0] = batchSize;
                    }
                    o.inputShape(e.getKey(), d);
                }
            }
            return o.build();
        }

        /** @param on also build an EMA copy of G @return this */
        public Builder ema(boolean on) {
            ema = on;
            return changed();
        }

        /**
         * Runs the teacher as a frozen TensorFlow module in the same workspace (instead of ONNX Runtime).
         *
         * @param format the teacher's latent geometry
         * @return this
         */
        public Builder teacherInTensorFlow(LatentFormat format) {
            teacherFormat = Objects.requireNonNull(format);
            return changed();
        }

        /**
         * @param factor the teacher's batch relative to the run's (2 with classifier-free guidance, which batches
         *     [uncond; cond]); for the memory estimate
         * @return this
         */
        public Builder teacherBatchFactor(int factor) {
            if (factor < 1) {
                throw InvalidRequestException.of("teacherBatchFactor", "at least 1", factor);
            }
            teacherBatchFactor = factor;
            return changed();
        }

        /** @param w a workspace to build in (the caller closes it); default: the modules' own @return this */
        public Builder workspace(TfWorkspace w) {
            workspace = w;
            return changed();
        }

        /**
         * @param o session settings (threads, GPU memory) of the modules' own workspace; default
         *     {@code TfSessionOptions.defaults().withGraphOptimizations(false)}: Grappler took 317 s of a 20-iteration
         *     SDXL run's 324 s (rewriting the large gradient graphs of G and F), 25 s without it, with the same losses
         * @return this
         */
        public Builder sessionOptions(TfSessionOptions o) {
            sessionOptions = Objects.requireNonNull(o);
            return changed();
        }

        /** @param b what the run may use; default {@link MemoryBudget#detect()} @return this */
        public Builder memoryBudget(MemoryBudget b) {
            budget = b;
            return changed();
        }

        /** @param more adds items to the estimate (a discriminator, a VAE decoder) @return this */
        public Builder estimateAlso(Consumer<MemoryEstimate.Builder> more) {
            moreEstimate = Objects.requireNonNull(more);
            return changed();
        }

        /**
         * Distils with low-rank adapters (docs/distillation.md, "LoRA"): G, F and the EMA are adapter sets over one
         * frozen copy of the teacher's weights ({@link StudentModules#sharedBase()}), only the adapters train and are
         * in the optimizers, checkpoints and IDA; {@link StudentModules#lora()} merges them for export.
         *
         * @param config targets, rank, alpha (null: full distillation)
         * @param seed the down projections' seed when the config has none (e.g. the run's seed)
         * @return this
         */
        public Builder lora(io.senseflow.tf.lora.LoraConfig config, long seed) {
            loraConfig = config;
            loraSeed = seed;
            return changed();
        }

        /** @return the adapters the modules will train, on the graph with teacher-only inputs bound; null without LoRA */
        public io.senseflow.tf.lora.LoraGraph loraGraph() {
            return loraConfig == null ? null : io.senseflow.tf.lora.LoraGraph.of(boundGraph(), loraConfig, loraSeed);
        }

        /** @return the graph G and F will run (with adapters, in a LoRA run) */
        public OnnxModel studentGraph() {
            io.senseflow.tf.lora.LoraGraph l = loraGraph();
            return l != null ? l.model() : boundGraph();
        }

        private OnnxModel boundGraph() {
            OnnxModel m = teacher;
            for (Map.Entry<String, Float> e : constants.entrySet()) {
                m = TeacherGraphs.bindConstant(m, e.getKey(), e.getValue());
            }
            for (String r : removed) {
                m = TeacherGraphs.removeInput(m, r);
            }
            return m;
        }

        private DenoiserSpec studentSpec() {
            List<String> gone = new ArrayList<>(constants.keySet());
            gone.addAll(removed);
            return spec.without(gone);
        }

        /**
         * Estimates the run's memory without building anything (imports the graph's ops once, with the run's trainable
         * weights, into a scratch graph with its gradient, to read its tensor sizes). The estimate is kept until a
         * setter is called again, and {@link #build()} uses it: estimating, then building, imports for the estimate once.
         *
         * @return the estimate
         */
        public MemoryEstimate estimate() {
            return estimated().estimate();
        }

        private Estimated estimated() {
            if (estimated == null) {
                io.senseflow.tf.lora.LoraGraph l = loraGraph();
                OnnxModel student = l != null ? l.model() : boundGraph();
                estimated = new Estimated(estimate(student, l), student, l);
            }
            return estimated;
        }

        /** Forgets the memoised estimate (every setter calls it). */
        private Builder changed() {
            estimated = null;
            return this;
        }

        private MemoryEstimate estimate(OnnxModel student, io.senseflow.tf.lora.LoraGraph lora) {
            if (lora != null) {
                return loraEstimate(student, lora);
            }
            Pattern p = trainable == null ? null : Pattern.compile(trainable);
            Map<String, String> buffers = trainBuffers ? Map.of() : io.senseflow.tf.ModelBuffers.of(student);
            long trainableParams = 0;
            long frozenParams = 0;
            for (TensorValue t : student.graph().initializers()) {
                if (!t.dataType().isFloatingPoint()) {
                    continue;
                }
                long n = 1;
                for (long d : t.dims()) {
                    n *= d;
                }
                if ((p == null || p.matcher(t.name()).find()) && !buffers.containsKey(t.name())) {
                    trainableParams += n;
                } else {
                    frozenParams += n;
                }
            }
            MemoryEstimate.Builder e = MemoryEstimate.builder()
                    .trainable("generator", trainableParams, frozenParams)
                    .trainable("fake score", trainableParams, frozenParams);
            if (ema) {
                e.frozen("EMA of the generator", trainableParams, true);
            }
            return withTeacherAndPasses(e, student, name -> (p == null || p.matcher(name).find())
                    && !buffers.containsKey(name));
        }

        /**
         * The teacher's weights, the TensorFlow graphs of G, F (forward and gradient ops) and the EMA (forward), and the
         * passes of G/F (counted on their gradient graph, {@link GraphActivations#backward}) and of the teacher, then
         * the caller's items.
         */
        private MemoryEstimate withTeacherAndPasses(MemoryEstimate.Builder e, OnnxModel student,
                                                    java.util.function.Predicate<String> trainableNames) {
            long teacherParams = floatParameters(teacher, name -> true);
            long acts;
            GraphActivations.Backward counts = null;
            String passNote = "";
            try {
                ImportOptions.Builder o = shapes(student, ImportOptions.builder().frozen().build()).toBuilder();
                for (Map.Entry<String, long[]> en : estimateShapes.entrySet()) {
                    if (!inputShapes.containsKey(en.getKey()) && student.graph().inputs().stream()
                            .anyMatch(v -> v.name().equals(en.getKey()))) {
                        long[] d = en.getValue().clone();
                        if (d.length > 0 && d[0] < 0) {
                            d[0] = batchSize;
                        }
                        o.inputShape(en.getKey(), d);
                    }
                }
                ImportOptions frozen = o.build();
                try {
                    // one trainable import counts both: the passes of G/F on its gradient graph, and the frozen
                    // teacher's pass as a frozen import would (weight-only nodes folded)
                    counts = GraphActivations.backward(student, o.trainable(trainableNames, "the run's trainable")
                            .build());
                    acts = counts.frozenForwardBytes();
                } catch (io.senseflow.tf.importer.OnnxImportException ex) {
                    throw ex; // the import itself (symbolic sizes, an operator): handled below, as for a frozen import
                } catch (RuntimeException ex) {
                    // a graph TensorFlow cannot differentiate here: fall back to a frozen import's forward count and
                    // its fraction
                    acts = GraphActivations.of(student, frozen).bytes();
                    org.slf4j.LoggerFactory.getLogger(StudentModules.class).warn("memory estimate: gradient graph not"
                            + " counted ({}); using {} of the forward count", io.senseflow.tf.graph.Runs.firstLine(
                            String.valueOf(ex.getMessage())), MemoryEstimate.BACKWARD_KEPT_FRACTION);
                }
            } catch (io.senseflow.tf.importer.UnsupportedOperatorException ex) {
                throw ex;
            } catch (io.senseflow.tf.importer.OnnxImportException ex) {
                // symbolic sizes the graph needs as numbers: the modules import at their call shapes; without
                // inputShape(...) the activations cannot be counted in advance
                acts = 0;
                passNote = " (not counted: the graph's sizes are symbolic; give inputShape(...) to count them)";
                org.slf4j.LoggerFactory.getLogger(StudentModules.class).warn("memory estimate: activations not"
                        + " counted, the graph needs static sizes its inputs leave symbolic ({}); give"
                        + " StudentModules.Builder.inputShape(...) to count them", io.senseflow.tf.graph.Runs.firstLine(
                        ex.getMessage()));
            }
            boolean bf16Teacher = teacherFormat != null && loraConfig != null && loraConfig.bfloat16Base();
            e.frozen(teacherFormat != null ? "teacher (TensorFlow, frozen)" : "teacher (ONNX Runtime)", teacherParams,
                    false, bf16Teacher ? MemoryEstimate.Precision.BFLOAT16 : MemoryEstimate.Precision.FLOAT32);
            if (counts != null) {
                e.graphs("generator and fake score graphs (forward + gradient)", counts.totalOps(), 2,
                        TRAINED_RUN_KINDS);
                if (ema) {
                    e.graphs("EMA graph (forward)", counts.forwardOps(), 1);
                }
                if (teacherFormat != null) {
                    e.graphs("teacher graph (forward)", counts.forwardOps(), 1);
                }
                e.backwardPass("generator / fake score at batch " + batchSize, counts);
            } else {
                e.pass("generator / fake score at batch " + batchSize + passNote, acts, true);
            }
            e.pass("teacher at batch " + batchSize * teacherBatchFactor + passNote, acts * teacherBatchFactor, false);
            moreEstimate.accept(e);
            return e.build();
        }

        /** Elements of the model's floating-point initializers whose name {@code counted} accepts. */
        private static long floatParameters(OnnxModel model, java.util.function.Predicate<String> counted) {
            long total = 0;
            for (TensorValue t : model.graph().initializers()) {
                if (t.dataType().isFloatingPoint() && counted.test(t.name())) {
                    long n = 1;
                    for (long d : t.dims()) {
                        n *= d;
                    }
                    total += n;
                }
            }
            return total;
        }

        /** LoRA: the base once (shared by G, F and the EMA), adapters (with gradients and moments) per module. */
        private MemoryEstimate loraEstimate(OnnxModel student, io.senseflow.tf.lora.LoraGraph lora) {
            long adapters = lora.adapterParameters();
            long base = floatParameters(student, name -> !lora.adapterNames().contains(name));
            MemoryEstimate.Precision basePrecision = lora.config().bfloat16Base()
                    ? MemoryEstimate.Precision.BFLOAT16 : MemoryEstimate.Precision.FLOAT32;
            MemoryEstimate.Builder e = MemoryEstimate.builder()
                    .frozen("frozen base, one copy shared by G, F" + (ema ? " and the EMA" : ""), base, false,
                            basePrecision)
                    .trainable("generator LoRA adapters (rank " + lora.config().rankValue() + ")", adapters, 0)
                    .trainable("fake score LoRA adapters", adapters, 0);
            if (ema) {
                e.frozen("EMA of the generator's adapters", adapters, true);
            }
            return withTeacherAndPasses(e, student, lora.adapterNames()::contains);
        }

        /**
         * Estimates, checks the budget, then imports the modules.
         *
         * @return the modules
         * @throws InvalidRequestException if the run does not fit (the estimate is in the message)
         */
        public StudentModules build() {
            if (loraConfig != null && trainable != null) {
                throw InvalidRequestException.of("trainablePattern", "none with LoRA (only the adapters train)",
                        trainable);
            }
            // the estimate of an unchanged builder is made once (a caller that checked it before building pays once)
            Estimated e = estimated();
            e.estimate().requireFits(budget != null ? budget : MemoryBudget.detect());
            return new StudentModules(this, e.student(), studentSpec(), e.estimate(), e.lora());
        }
    }
}
