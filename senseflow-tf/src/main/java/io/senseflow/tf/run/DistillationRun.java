package io.senseflow.tf.run;

import io.senseflow.CancelledException;
import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.DistillationListener;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.io.AtomicFiles;
import io.senseflow.io.FileTrees;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import io.senseflow.model.Conditioning;
import io.senseflow.model.Generator;
import io.senseflow.model.LatentFormat;
import io.senseflow.model.Parameterization;
import io.senseflow.onnx.checkpoint.Checkpoint;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.ModelFamily;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.folders.SdxlUnet;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.runtime.DenoiserBinding;
import io.senseflow.onnx.runtime.OrtGenerator;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.reference.Mlp;
import io.senseflow.reference.MlpSpec;
import io.senseflow.schedule.DdpmSchedule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.export.OnnxExport;
import io.senseflow.tf.train.DenoiserSpec;
import io.senseflow.tf.train.MemoryBudget;
import io.senseflow.tf.train.MemoryEstimate;
import io.senseflow.tf.train.StudentModules;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.EpsilonFlowModule;
import io.senseflow.train.ParameterStore;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The distillation front door: a SenseFlow run straight from a model folder that {@link Models#load} reads (Optimum
 * SD3/SD3.5, FLUX.1-dev/schnell, SDXL) and a prompt file.
 *
 * <p>From the folder it derives the family, the denoiser and its binding, the latent format, the guidance mode, the
 * text encoders (used once, in ONNX Runtime, to encode and cache every prompt), the recipe's constants for the family
 * ({@link DistillationConfig#preset}), SDXL's epsilon parameterization and beta table, FLUX's packed tokens, ids and
 * embedded guidance. G and F are {@link StudentModules} on the teacher's own denoiser graph; the teacher runs in ONNX
 * Runtime; the GAN term's discriminator is a small MLP head (the reference engine) on the latent and the pooled
 * embedding.
 *
 * <pre>{@code
 * try (DistillationRun run = DistillationRun.builder(Path.of("sd35-medium-onnx"))
 *         .prompts(Path.of("prompts.txt")).folder(Path.of("runs/sd35")).build()) {
 *     run.run(CancellationToken.none());
 *     run.exportStudent(Path.of("sd35-senseflow"));
 * }
 * }</pre>
 *
 * <p>The run folder holds {@code run.json} (teacher, prompts, config, provenance), {@code losses.csv}
 * ({@code iteration,term,value}) and {@code checkpoints/}. {@link Builder#resume} continues it bit for bit; a resume
 * from another teacher, prompt file, image size or config is refused naming {@code run.json}'s field. Every check
 * (the folder is a model, the prompt file, the run folder, the resume, the memory estimate) happens in
 * {@link Builder#build} before anything is written.
 *
 * <p>Not thread-safe: one thread drives a run; {@link CancellationToken#cancel()} may come from any thread.
 */
public final class DistillationRun implements AutoCloseable {
    /** The run folder's description file. */
    public static final String RUN_JSON = "run.json";
    /** The run folder's losses file. */
    public static final String LOSSES = "losses.csv";
    /** The run folder's checkpoint folder. */
    public static final String CHECKPOINTS = "checkpoints";
    static final String FORMAT = "senseflow-distillation-run";

    private final Path teacherDir;
    private final Path folder;
    private final ModelFamily modelFamily;
    private final String component;
    private final DistillationConfig config;
    private final LoadedModel loaded;
    private final OrtGenerator packedTeacher;
    private final StudentModules students;
    private final Mlp discriminator;
    private final Distiller distiller;
    private final CheckpointStore store;
    private final long checkpointEvery;
    private final List<String> losses = new ArrayList<>();
    private final List<DistillationListener> listeners;
    private final Optional<Long> resumedFrom;
    private boolean closed;

    private DistillationRun(Builder b, Prepared p) {
        this.teacherDir = b.teacher;
        this.folder = b.folder;
        this.modelFamily = p.loaded.family();
        this.component = p.component;
        this.config = p.config;
        this.loaded = p.loaded;
        this.checkpointEvery = b.checkpointEvery;
        this.listeners = List.copyOf(b.listeners);
        this.store = CheckpointStore.builder(folder.resolve(CHECKPOINTS)).keepLast(2).build();
        OrtGenerator flux = null;
        StudentModules s = null;
        Mlp d = null;
        try {
            Generator teacher = loaded.generator();
            Function<DifferentiableModule, DifferentiableModule> flow = m -> m;
            if (modelFamily == ModelFamily.FLUX) {
                flux = OrtGenerator.create(loaded.runtime().load(p.graph, "teacher", b.sessionConfig), fluxBinding(p),
                        Parameterization.VELOCITY, new LatentFormat(p.sample[1], p.sample[0], 1));
                teacher = flux;
            } else if (modelFamily == ModelFamily.SDXL) {
                DdpmSchedule table = p.table;
                flow = m -> new EpsilonFlowModule(m, table);
            }
            s = p.students.build();
            DifferentiableModule g = flow.apply(s.generator());
            DifferentiableModule f = flow.apply(s.fakeScore());
            Distiller.Builder db = Distiller.builder().config(config).teacher(teacher).generator(g).fakeScore(f)
                    .dataset(p.dataset).listener(this::record);
            if (config.gan().enabled()) {
                int dim = 1;
                for (int x : p.sample) {
                    dim *= x;
                }
                d = new Mlp(MlpSpec.discriminator(dim, p.pooledWidth, 16, 1), config.seed() + 17,
                        config.discriminatorOptimizer());
                db.discriminator(d);
            }
            if (config.emaDecay() > 0) {
                db.ema(s.ema().parameters());
            }
            Distiller dist = db.build();
            Optional<Long> from = Optional.empty();
            if (b.resume) {
                Checkpoint cp = store.loadLatest().orElseThrow(() -> InvalidRequestException.of("resume " + folder
                        .resolve(CHECKPOINTS), "a checkpoint of the run", "none"));
                cp.requireArchitecture("generator", s.generator().parameters());
                cp.restore(dist);
                from = Optional.of(cp.iteration());
                losses.addAll(p.lossesBefore(cp.iteration()));
            }
            this.resumedFrom = from;
            this.distiller = dist;
        } catch (RuntimeException e) {
            closeQuietly(s, d, flux, loaded);
            throw e;
        }
        this.packedTeacher = flux;
        this.students = s;
        this.discriminator = d;
    }

    private static void closeQuietly(AutoCloseable... all) {
        for (AutoCloseable c : all) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // already failing
                }
            }
        }
    }

    /**
     * @param teacher the teacher's model folder
     * @return a builder
     */
    public static Builder builder(Path teacher) {
        return new Builder(teacher);
    }

    /**
     * A builder that continues the run in {@code runFolder}: the teacher and prompt file are the ones its
     * {@code run.json} records (give {@link Builder#loadOptions}, {@link Builder#imageSize} etc. as the run had them).
     *
     * @param runFolder a run's folder
     * @return a builder with {@link Builder#resume} on
     * @throws InvalidRequestException naming {@code run.json} when the folder is not a run
     */
    public static Builder resume(Path runFolder) {
        Path runJson = runFolder.toAbsolutePath().normalize().resolve(RUN_JSON);
        JsonObject recorded;
        try {
            recorded = Json.parseObject(Files.readString(runJson));
        } catch (IOException e) {
            throw InvalidRequestException.of("resume " + runJson, "the run.json of a distillation run",
                    Files.isDirectory(runFolder) ? "a folder without one" : "no such folder");
        } catch (RuntimeException e) {
            throw InvalidRequestException.of("resume " + runJson, "a run.json written by DistillationRun",
                    e.getMessage());
        }
        if (!FORMAT.equals(recorded.getString("format", "")) || !recorded.has("teacher")) {
            throw InvalidRequestException.of("resume " + runJson + " format", FORMAT, recorded.getString("format",
                    "none"));
        }
        return builder(Path.of(recorded.getString("teacher"))).folder(runFolder).resume(true);
    }

    /**
     * @param runFolder a folder
     * @return whether it holds the {@code run.json} of a {@code DistillationRun} (the Shapes CLI's run folders
     *     have a {@code run.json} of another format)
     */
    public static boolean isRun(Path runFolder) {
        Path f = runFolder.resolve(RUN_JSON);
        if (!Files.isRegularFile(f)) {
            return false;
        }
        try {
            return FORMAT.equals(Json.parseObject(Files.readString(f)).getString("format", ""));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** @return the run's config (preset of the recipe and family, with the builder's overrides) */
    public DistillationConfig config() {
        return config;
    }

    /** @return the teacher's family as {@link Models#load} read it */
    public ModelFamily family() {
        return modelFamily;
    }

    /** @return the run folder */
    public Path folder() {
        return folder;
    }

    /** @return the iteration the next step runs */
    public long iteration() {
        return distiller.iteration();
    }

    /** @return the checkpoint iteration this run resumed from, if it did */
    public Optional<Long> resumedFrom() {
        return resumedFrom;
    }

    /** @return the memory estimate the run was checked against */
    public MemoryEstimate memoryEstimate() {
        return students.estimate();
    }

    /**
     * @return the modules of the run: G, F, the EMA, and in a LoRA run the shared frozen base
     *     ({@link StudentModules#sharedBase()}) and the adapters ({@link StudentModules#lora()})
     */
    public StudentModules modules() {
        requireOpen();
        return students;
    }

    /** @return the adapters of a LoRA run ({@link Builder#lora}), or null for full distillation */
    public io.senseflow.tf.lora.LoraGraph lora() {
        return students.lora();
    }

    /**
     * Writes the current adapters of a LoRA run (the EMA's when the config keeps an EMA) as a safetensors file:
     * {@code <weight>.lora_down} ({@code in x rank}), {@code <weight>.lora_up} ({@code rank x out}), with the rank,
     * alpha and scale in its metadata. {@link io.senseflow.tf.lora.LoraGraph#withAdapters} or
     * {@link io.senseflow.tf.lora.LoraGraph#merge} turn them back into a model.
     *
     * @param file the safetensors file (written atomically)
     * @return {@code file}
     * @throws InvalidRequestException if the run is not a LoRA run
     */
    public Path exportAdapters(Path file) {
        requireOpen();
        if (students.lora() == null) {
            throw InvalidRequestException.of("exportAdapters", "a LoRA run (Builder.lora)", "full distillation");
        }
        ParameterStore weights = config.emaDecay() > 0 ? students.ema().parameters() : students.generator()
                .parameters();
        io.senseflow.tf.lora.LoraAdapters.write(file, students.lora(), weights.snapshot(), Map.of(
                "senseflow.teacher", teacherDir.toString(), "senseflow.iteration", Long.toString(distiller
                        .iteration())));
        return file;
    }

    /** @return the generator's parameters (the student) */
    public ParameterStore student() {
        return students.generator().parameters();
    }

    private void record(IterationMetrics m) {
        new TreeMap<>(m.losses()).forEach((k, v) -> losses.add(m.iteration() + "," + k + "," + v));
        for (DistillationListener l : listeners) {
            l.onIteration(m);
        }
    }

    /**
     * Runs to the config's iterations, saving a checkpoint every {@link Builder#checkpointEvery} iterations, at the
     * end and on cancellation.
     *
     * @param cancellation checked before every iteration
     * @return the last iteration's metrics, or null if none ran
     * @throws CancelledException after saving a checkpoint, when cancelled
     */
    public IterationMetrics run(CancellationToken cancellation) {
        return runUntil(config.iterations(), cancellation);
    }

    /**
     * Runs until {@link #iteration()} reaches {@code end} (at most the config's iterations), as {@link #run} does; a
     * run stopped here continues with {@link Builder#resume}.
     *
     * @param end the iteration to stop before
     * @param cancellation checked before every iteration
     * @return the last iteration's metrics, or null if none ran
     */
    public IterationMetrics runUntil(long end, CancellationToken cancellation) {
        requireOpen();
        long stop = Math.min(end, config.iterations());
        IterationMetrics last = null;
        while (distiller.iteration() < stop) {
            long next = Math.min(stop, (distiller.iteration() / checkpointEvery + 1) * checkpointEvery);
            try {
                IterationMetrics m = distiller.runUntil(next, cancellation);
                last = m != null ? m : last;
            } catch (CancelledException e) {
                save();
                throw e;
            }
            save();
        }
        return last;
    }

    /** Saves a checkpoint of the current iteration and the losses so far (both atomically). */
    public void save() {
        requireOpen();
        store.save(distiller.snapshot());
        StringBuilder sb = new StringBuilder("iteration,term,value\n");
        losses.forEach(l -> sb.append(l).append('\n'));
        AtomicFiles.write(folder.resolve(LOSSES), sb.toString().getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Writes the student as a model folder in the teacher's own layout: a copy of the teacher's folder whose denoiser
     * ({@code transformer/} or {@code unet/}) is the student (EMA weights when the config keeps an EMA), with
     * {@code "senseflow_checkpoint": true} in {@code model_index.json}, so {@link Models#load} samples it with the
     * few-step scheduler. The folder appears whole or not at all.
     *
     * @param dir the new folder (must not exist, or be empty)
     * @return {@code dir}
     * @throws InvalidRequestException if {@code dir} exists and is not empty
     */
    public Path exportStudent(Path dir) {
        requireOpen();
        dir = dir.toAbsolutePath().normalize();
        if (Files.exists(dir) && !FileTrees.isEmptyDirectory(dir)) {
            throw InvalidRequestException.of("export folder " + dir, "a new or empty folder", "an existing "
                    + (Files.isDirectory(dir) ? "folder with files" : "file"));
        }
        Path tmp = dir.resolveSibling(dir.getFileName() + ".partial-" + System.nanoTime());
        try {
            FileTrees.copy(teacherDir, tmp);
            Path comp = tmp.resolve(component);
            Files.deleteIfExists(comp.resolve("model.onnx_data"));
            ParameterStore weights = config.emaDecay() > 0 ? students.ema().parameters() : students.generator()
                    .parameters();
            // a LoRA student is exported merged: W + (alpha/rank) down up in the teacher's own graph
            OnnxExport export = students.lora() != null
                    ? OnnxExport.of(students.lora().merge(weights.snapshot()), Map.of())
                    : OnnxExport.of(students.studentGraph(), weights);
            export.withProvenance(Map.of("senseflow.teacher",
                    teacherDir.toString(), "senseflow.iteration", Long.toString(distiller.iteration()),
                    "senseflow.recipe", config.gan().enabled() ? "gan" : "no-gan")).writeModel(comp.resolve(
                    "model.onnx"));
            Path index = tmp.resolve("model_index.json");
            Map<String, Object> idx = new LinkedHashMap<>(Json.parseObject(Files.readString(index)).asMap());
            idx.put("senseflow_checkpoint", Boolean.TRUE);
            Files.writeString(index, Json.writePretty(idx) + "\n");
            if (Files.exists(dir)) {
                Files.delete(dir);
            }
            Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            return dir;
        } catch (IOException e) {
            FileTrees.deleteQuietly(tmp);
            throw new UncheckedIOException("exporting the student to " + dir + ": " + e.getMessage(), e);
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("DistillationRun is closed");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            closeQuietly(students, discriminator, packedTeacher, loaded);
        }
    }

    private static DenoiserBinding fluxBinding(Prepared p) {
        int tokens = p.sample[0];
        int cols = p.latentWidth / 2;
        long[] ids = new long[tokens * 3];
        for (int i = 0; i < tokens; i++) {
            ids[3 * i + 1] = i / cols;
            ids[3 * i + 2] = i % cols;
        }
        return DenoiserBinding.flux().toBuilder().channelAxis(2).constantIds("img_ids", ids, tokens, 3)
                .constantIds("txt_ids", new long[p.textLength * 3], p.textLength, 3).build();
    }

    /** Everything {@link Builder#build} checked and prepared before the modules are imported. */
    private static final class Prepared {
        LoadedModel loaded;
        String component;
        OnnxModel graph;
        DistillationConfig config;
        StudentModules.Builder students;
        DistillationDataset dataset;
        int[] sample;
        int latentWidth;
        int textLength;
        int pooledWidth;
        DdpmSchedule table;
        List<String> previousLosses = List.of();

        List<String> lossesBefore(long iteration) {
            List<String> keep = new ArrayList<>();
            for (String l : previousLosses) {
                int comma = l.indexOf(',');
                try {
                    if (comma > 0 && Long.parseLong(l.substring(0, comma)) < iteration) {
                        keep.add(l);
                    }
                } catch (NumberFormatException ignored) {
                    // the header
                }
            }
            return keep;
        }
    }

    /** Builder of {@link DistillationRun}: every check happens in {@link #build()}, before anything is written. */
    public static final class Builder {
        private final Path teacher;
        private Path prompts;
        private Path folder;
        private boolean resume;
        private Recipe recipe;
        private DistillationConfig config;
        private Long iterations;
        private Integer batchSize;
        private Long seed;
        private long checkpointEvery = 250;
        private int width;
        private int height;
        private LoadOptions loadOptions = LoadOptions.defaults();
        private SessionConfig sessionConfig = SessionConfig.defaults();
        private int threads;
        private MemoryBudget budget;
        private final List<DistillationListener> listeners = new ArrayList<>();
        private io.senseflow.tf.lora.LoraConfig lora;
        private io.senseflow.tf.lora.LoraConfig resolvedLora;

        private Builder(Path teacher) {
            this.teacher = Objects.requireNonNull(teacher, "teacher").toAbsolutePath().normalize();
        }

        /** @param file the prompt file ({@link PromptFile}); with {@link #resume}, optional (run.json's) @return this */
        public Builder prompts(Path file) {
            this.prompts = file;
            return this;
        }

        /** @param dir the run folder: new, empty, or (with {@link #resume}) a run's folder @return this */
        public Builder folder(Path dir) {
            this.folder = dir;
            return this;
        }

        /** @param on continue the run in {@link #folder} from its latest checkpoint @return this */
        public Builder resume(boolean on) {
            this.resume = on;
            return this;
        }

        /** @param r the recipe whose family preset the run starts from (default: senseflow) @return this */
        public Builder recipe(Recipe r) {
            this.recipe = r;
            return this;
        }

        /** @param c a full config (instead of the recipe's preset); overrides still apply @return this */
        public Builder config(DistillationConfig c) {
            this.config = c;
            return this;
        }

        /** @param n override the config's iterations (a resume may extend them) @return this */
        public Builder iterations(long n) {
            this.iterations = n;
            return this;
        }

        /** @param n override the config's batch size @return this */
        public Builder batchSize(int n) {
            this.batchSize = n;
            return this;
        }

        /** @param s override the config's seed @return this */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** @param n save a checkpoint every n iterations (default 250) @return this */
        public Builder checkpointEvery(long n) {
            if (n < 1) {
                throw InvalidRequestException.of("checkpointEvery", "at least 1", n);
            }
            this.checkpointEvery = n;
            return this;
        }

        /**
         * @param w image width in pixels (default: the folder's default size)
         * @param h image height in pixels
         * @return this
         */
        public Builder imageSize(int w, int h) {
            this.width = w;
            this.height = h;
            return this;
        }

        /** @param o how the teacher folder is loaded (T5 length, session config, family) @return this */
        public Builder loadOptions(LoadOptions o) {
            this.loadOptions = Objects.requireNonNull(o);
            this.sessionConfig = o.sessionConfig();
            return this;
        }

        /** @param n TensorFlow intra-op threads (0: its default) @return this */
        public Builder threads(int n) {
            this.threads = n;
            return this;
        }

        /** @param b the memory the run must fit (default: {@link MemoryBudget#detect()}) @return this */
        public Builder memoryBudget(MemoryBudget b) {
            this.budget = b;
            return this;
        }

        /**
         * Distils with low-rank adapters on the denoiser's projections (docs/distillation.md, "LoRA"): G and F are two
         * adapter sets over one frozen copy of the teacher's weights, only the adapters train (optimizers,
         * checkpoints, IDA and the EMA act on them), and {@link DistillationRun#exportStudent} writes the merged
         * student. Recorded in {@code run.json}; a resume takes the recorded settings and refuses others.
         *
         * @param c the adapters' targets, rank and alpha; null for full distillation (the default)
         * @return this
         */
        public Builder lora(io.senseflow.tf.lora.LoraConfig c) {
            this.lora = c;
            return this;
        }

        /** @param l called after every iteration @return this */
        public Builder listener(DistillationListener l) {
            listeners.add(Objects.requireNonNull(l));
            return this;
        }

        /**
         * Checks everything, then loads the teacher, encodes the prompts and imports G and F.
         *
         * @return the run, ready to {@link DistillationRun#run}
         * @throws InvalidRequestException naming the file or field: no run folder, a folder that exists and is not a
         *     run (or is one, without resume), a bad prompt file, a resume from another teacher, prompt file, size or
         *     config, a run that does not fit the memory budget
         * @throws ModelLoadException if the teacher folder is not a model {@link Models#load} reads
         */
        public DistillationRun build() {
            if (folder == null) {
                throw InvalidRequestException.of("run folder", "a folder for the run's checkpoints and losses", "none");
            }
            folder = folder.toAbsolutePath().normalize();
            Path runJson = folder.resolve(RUN_JSON);
            JsonObject recorded = null;
            List<String> previousLosses = List.of();
            if (resume) {
                if (!Files.isRegularFile(runJson)) {
                    throw InvalidRequestException.of("resume " + runJson, "the run.json of a distillation run",
                            Files.isDirectory(folder) ? "a folder without one" : "no such folder");
                }
                try {
                    recorded = Json.parseObject(Files.readString(runJson));
                    if (!FORMAT.equals(recorded.getString("format", ""))) {
                        throw InvalidRequestException.of("resume " + runJson + " format", FORMAT,
                                recorded.getString("format", "none"));
                    }
                    Path losses = folder.resolve(LOSSES);
                    if (Files.isRegularFile(losses)) {
                        previousLosses = Files.readAllLines(losses);
                    }
                } catch (IOException e) {
                    throw InvalidRequestException.of("resume " + runJson, "a readable run.json", e.toString());
                } catch (RuntimeException e) {
                    if (e instanceof InvalidRequestException) {
                        throw e;
                    }
                    throw InvalidRequestException.of("resume " + runJson, "a run.json written by DistillationRun",
                            e.getMessage());
                }
                if (prompts == null) {
                    prompts = Path.of(recorded.getString("prompts"));
                }
            } else if (Files.exists(folder)) {
                if (Files.isRegularFile(runJson)) {
                    throw InvalidRequestException.of("run folder " + folder, "a new or empty folder (resume continues"
                            + " a run)", "the folder of an existing run");
                }
                if (!FileTrees.isEmptyDirectory(folder)) {
                    throw InvalidRequestException.of("run folder " + folder, "a new or empty folder, or a run's folder",
                            Files.isDirectory(folder) ? "a folder with other files and no " + RUN_JSON : "a file");
                }
            }
            if (prompts == null) {
                throw InvalidRequestException.of("prompts", "a prompt file (one prompt per line)", "none");
            }
            PromptFile promptFile = PromptFile.read(prompts);

            LoadedModel loaded = Models.load(teacher, loadOptions);
            try {
                return new DistillationRun(this, prepare(loaded, promptFile, recorded, runJson, previousLosses));
            } catch (RuntimeException e) {
                loaded.close();
                throw e;
            }
        }

        private Prepared prepare(LoadedModel loaded, PromptFile promptFile, JsonObject recorded, Path runJson,
                                 List<String> previousLosses) {
            Prepared p = new Prepared();
            p.loaded = loaded;
            p.previousLosses = previousLosses;
            ModelFamily mf = loaded.family();
            if (mf == ModelFamily.SENSEFLOW) {
                throw InvalidRequestException.of("teacher " + teacher, "an Optimum SD3/SD3.5, FLUX.1 or SDXL folder"
                        + " (SDK-layout teachers: senseflow distill --teacher DIR without --prompts)", "a SenseFlow"
                        + "-layout folder");
            }
            if (loaded.senseflowCheckpoint()) {
                throw InvalidRequestException.of("teacher " + teacher.resolve("model_index.json"), "a many-step"
                        + " teacher", "a SenseFlow checkpoint (senseflow_checkpoint: true)");
            }
            p.component = mf == ModelFamily.SDXL ? "unet" : "transformer";
            Path graphFile = teacher.resolve(p.component).resolve("model.onnx");
            Family family = switch (mf) {
                case SD3 -> sd3Size() >= 38 ? Family.SD35_LARGE : Family.SD35_MEDIUM;
                case FLUX -> Family.FLUX;
                case SDXL -> Family.SDXL;
                default -> Family.CUSTOM;
            };
            DistillationConfig base = config != null ? config
                    : recorded != null && recipe == null ? DistillationConfig.fromJson(recorded.getString("config"))
                    : DistillationConfig.preset(recipe == null ? Recipe.SENSEFLOW : recipe, family);
            DistillationConfig.Builder cb = base.toBuilder();
            if (iterations != null) {
                cb.iterations(iterations);
            }
            if (batchSize != null) {
                cb.batchSize(batchSize);
            }
            if (seed != null) {
                cb.seed(seed);
            }
            DistillationConfig cfg = cb.build();
            p.config = cfg;
            io.senseflow.tf.lora.LoraConfig recordedLora = recorded != null && recorded.has("lora")
                    ? io.senseflow.tf.lora.LoraConfig.fromJson(recorded.getString("lora")) : null;
            resolvedLora = lora != null ? lora : recordedLora;
            if (recorded != null) {
                requireSame(runJson, "lora", recordedLora == null ? "none" : recordedLora.toJson(),
                        resolvedLora == null ? "none" : resolvedLora.toJson(), "this run's LoRA settings");
            }

            int w = width > 0 ? width : loaded.defaults().width();
            int h = height > 0 ? height : loaded.defaults().height();
            LatentFormat format = loaded.latentFormat();
            int multiple = format.pixelMultiple();
            if (w % multiple != 0 || h % multiple != 0) {
                throw InvalidRequestException.of("image size", "multiples of " + multiple, w + " x " + h);
            }
            int lh = h / format.downsample();
            int lw = w / format.downsample();
            p.latentWidth = lw;
            String fingerprint = fingerprint(mf, p.component, graphFile);
            if (recorded != null) {
                requireSame(runJson, "teacher_fingerprint", recorded.getString("teacher_fingerprint", ""),
                        fingerprint, "the teacher " + teacher);
                requireSame(runJson, "prompts_sha256", recorded.getString("prompts_sha256", ""), promptFile.sha256(),
                        "the prompt file " + promptFile.file());
                requireSame(runJson, "image_size", recorded.getString("image_size", ""), w + "x" + h, "this size");
                String want = DistillationConfig.fromJson(recorded.getString("config")).toBuilder().iterations(1)
                        .build().toJson();
                if (!want.equals(cfg.toBuilder().iterations(1).build().toJson())) {
                    throw InvalidRequestException.of("resume " + runJson + " config", "the run's config (only"
                            + " iterations may change on resume)", "a different config");
                }
            }

            // prompts: encoded once with the teacher's encoders, cached for the whole run
            List<Conditioning> cond = new ArrayList<>();
            List<Conditioning> uncond = new ArrayList<>();
            Map<String, Conditioning> negatives = new LinkedHashMap<>();
            for (int i = 0; i < promptFile.prompts().size(); i++) {
                cond.add(withSize(mf, loaded.promptEncoder().encode(List.of(promptFile.prompts().get(i))), w, h));
                String neg = promptFile.negatives().get(i);
                uncond.add(negatives.computeIfAbsent(neg, n -> withSize(mf, loaded.promptEncoder().encode(List.of(n)),
                        w, h)));
            }
            Conditioning first = cond.get(0);
            p.textLength = first.tokens().dim(1);
            p.pooledWidth = first.pooled() == null ? 0 : first.pooled().dim(1);
            p.sample = mf == ModelFamily.FLUX ? new int[] {(lh / 2) * (lw / 2), 4 * format.channels()}
                    : new int[] {format.channels(), lh, lw};
            int[] sample = p.sample;
            p.dataset = new DistillationDataset() {
                @Override
                public DistillationBatch batch(long iteration, int size) {
                    List<Conditioning> c = new ArrayList<>();
                    List<Conditioning> u = new ArrayList<>();
                    for (int j = 0; j < size; j++) {
                        int k = (int) Math.floorMod(iteration * size + j, (long) cond.size());
                        c.add(cond.get(k));
                        u.add(uncond.get(k));
                    }
                    return new DistillationBatch(List.of(), Conditioning.concat(c), Conditioning.concat(u), null);
                }

                @Override
                public int[] sampleShape() {
                    return sample.clone();
                }
            };

            p.graph = OnnxModel.read(graphFile);
            DenoiserSpec spec = switch (mf) {
                case SD3 -> DenoiserSpec.sd3();
                case FLUX -> DenoiserSpec.flux();
                default -> DenoiserSpec.sdxl();
            };
            StudentModules.Builder sb = StudentModules.builder(p.graph, spec).batchSize(cfg.batchSize())
                    .generatorOptimizer(cfg.generatorOptimizer()).fakeScoreOptimizer(cfg.fakeScoreOptimizer())
                    .ema(cfg.emaDecay() > 0)
                    .sessionOptions((threads > 0 ? TfSessionOptions.defaults().withIntraOpThreads(threads)
                            : TfSessionOptions.defaults()).withGraphOptimizations(false));
            if (budget != null) {
                sb.memoryBudget(budget);
            }
            if (resolvedLora != null) {
                sb.lora(resolvedLora, cfg.seed());
            }
            if (mf == ModelFamily.FLUX) {
                if (p.graph.graph().inputs().stream().anyMatch(v -> v.name().equals("guidance"))) {
                    sb.bindConstant("guidance", (float) Math.max(loaded.defaults().guidanceScale(), 1.0));
                }
                sb.fluxIds(lh, lw, p.textLength).tieSharedParameters(true);
            }
            if (mf == ModelFamily.SDXL) {
                p.table = sdxlTable(teacher.resolve("scheduler/scheduler_config.json"));
            }
            sb.estimateAlso(e -> e.trainable("discriminator (MLP head)", cfg.gan().enabled()
                    ? (long) 16 * (sampleSize(sample) + p.pooledWidth) + 16 + 17 : 0, 0));
            p.students = sb;
            // the memory check happens in StudentModules.Builder.build(), before any import; run.json comes first
            // only when the run is new (a resume keeps the recorded file)
            MemoryEstimate estimate = sb.estimate();
            estimate.requireFits(budget != null ? budget : MemoryBudget.detect());
            if (recorded == null) {
                writeRunJson(runJson, mf, p.component, fingerprint, promptFile, w, h, cfg);
            }
            return p;
        }

        private static long sampleSize(int[] s) {
            long n = 1;
            for (int x : s) {
                n *= x;
            }
            return n;
        }

        private int sd3Size() {
            Path cfg = teacher.resolve("transformer/config.json");
            if (!Files.isRegularFile(cfg)) {
                return 0;
            }
            try {
                return Json.parseObject(Files.readString(cfg)).getInt("num_layers", 0);
            } catch (IOException | RuntimeException e) {
                return 0;
            }
        }

        private void writeRunJson(Path runJson, ModelFamily mf, String component, String fingerprint, PromptFile pf,
                                  int w, int h, DistillationConfig cfg) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("format", FORMAT);
            m.put("version", 1L);
            m.put("teacher", teacher.toString());
            m.put("family", mf.id());
            m.put("denoiser", component);
            m.put("teacher_fingerprint", fingerprint);
            m.put("prompts", pf.file().toAbsolutePath().normalize().toString());
            m.put("prompts_sha256", pf.sha256());
            m.put("prompt_count", (long) pf.prompts().size());
            m.put("image_size", w + "x" + h);
            m.put("recipe", recipe == null ? (config == null ? "senseflow" : "config") : recipe.id());
            m.put("config", cfg.toJson());
            if (resolvedLora != null) {
                m.put("lora", resolvedLora.toJson());
            }
            Map<String, Object> prov = new LinkedHashMap<>();
            prov.put("created_utc", Instant.now().toString());
            prov.put("java", System.getProperty("java.version"));
            prov.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
            m.put("provenance", prov);
            try {
                Files.createDirectories(runJson.getParent());
            } catch (IOException e) {
                throw InvalidRequestException.of("run folder " + runJson.getParent(), "a folder that can be created",
                        e.toString());
            }
            AtomicFiles.write(runJson, (Json.writePretty(m) + "\n").getBytes(StandardCharsets.UTF_8));
        }
    }

    private static void requireSame(Path runJson, String field, String recorded, String now, String what) {
        if (!recorded.equals(now)) {
            throw InvalidRequestException.of("resume " + runJson + " " + field, recorded + " (the run's)",
                    now + " (" + what + ")");
        }
    }

    private static Conditioning withSize(ModelFamily mf, Conditioning c, int w, int h) {
        return mf == ModelFamily.SDXL && !c.extras().containsKey(SdxlUnet.TIME_IDS)
                ? c.withExtra(SdxlUnet.TIME_IDS, SdxlUnet.timeIds(c.batch(), h, w)) : c;
    }

    /** The teacher's identity: family, denoiser, the sizes of its files and a hash of its configs and graph head. */
    static String fingerprint(ModelFamily mf, String component, Path graph) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update((mf.id() + "/" + component + "/").getBytes(StandardCharsets.UTF_8));
            Path root = graph.getParent().getParent();
            for (Path f : new Path[] {root.resolve("model_index.json"), graph.resolveSibling("config.json")}) {
                if (Files.isRegularFile(f)) {
                    md.update(Files.readAllBytes(f));
                }
            }
            for (Path f : new Path[] {graph, graph.resolveSibling("model.onnx_data")}) {
                if (Files.isRegularFile(f)) {
                    long size = Files.size(f);
                    md.update(Long.toString(size).getBytes(StandardCharsets.UTF_8));
                    try (InputStream in = Files.newInputStream(f)) {
                        md.update(in.readNBytes(1 << 20));
                    }
                }
            }
            return HexFormat.of().formatHex(md.digest()).substring(0, 32);
        } catch (IOException e) {
            throw new ModelLoadException(graph + ": cannot be read: " + e.getMessage(), e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** SDXL's DDPM table from the scheduler config (scaled_linear betas; epsilon prediction). */
    static DdpmSchedule sdxlTable(Path file) {
        if (!Files.isRegularFile(file)) {
            return DdpmSchedule.stableDiffusion();
        }
        try {
            JsonObject c = Json.parseObject(Files.readString(file));
            String pred = c.getString("prediction_type", "epsilon");
            if (!pred.equals("epsilon")) {
                throw InvalidRequestException.of(file + " prediction_type", "epsilon", pred);
            }
            String betas = c.getString("beta_schedule", "scaled_linear");
            if (!betas.equals("scaled_linear")) {
                throw InvalidRequestException.of(file + " beta_schedule", "scaled_linear", betas);
            }
            return DdpmSchedule.scaledLinear(c.getDouble("beta_start", 0.00085), c.getDouble("beta_end", 0.012),
                    c.getInt("num_train_timesteps", 1000));
        } catch (IOException e) {
            throw new ModelLoadException(file + ": cannot be read: " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "DistillationRun[%s %s -> %s, iteration %d of %d]", modelFamily.id(),
                teacherDir, folder, closed ? -1 : distiller.iteration(), config.iterations());
    }
}
