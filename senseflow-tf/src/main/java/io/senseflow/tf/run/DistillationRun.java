package io.senseflow.tf.run;

import io.senseflow.CancelledException;
import io.senseflow.InvalidRequestException;
import io.senseflow.ModelLoadException;
import io.senseflow.distill.DistillationBatch;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.DistillationDataset;
import io.senseflow.distill.DistillationListener;
import io.senseflow.distill.DistillationObjective;
import io.senseflow.distill.Distiller;
import io.senseflow.distill.Family;
import io.senseflow.distill.IterationMetrics;
import io.senseflow.distill.Recipe;
import io.senseflow.distill.TrainingSnapshot;
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
import io.senseflow.schedule.TimestepSampler;
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
 * SD3/SD3.5, FLUX.1-dev/schnell, SDXL, or the SDK's own layout, {@code "family": "senseflow"}) and a prompt file.
 *
 * <p>From the folder it derives the family, the denoiser and its binding, the latent format, the guidance mode, the
 * text encoders (used once, in ONNX Runtime, to encode and cache every prompt), the recipe's constants for the family
 * ({@link DistillationConfig#preset}), SDXL's epsilon parameterization and beta table, FLUX's packed tokens, ids and
 * embedded guidance. G and F are {@link StudentModules} on the teacher's own denoiser graph; the teacher runs in ONNX
 * Runtime; the GAN term's discriminator is a small MLP head (the reference engine) on the latent and the pooled
 * embedding, or, with {@link Builder#backbone}, SenseFlow's VFM discriminator (heads on a frozen vision backbone such
 * as DINOv2, behind the teacher's VAE decoder in TensorFlow). Optional real samples ({@link Builder#realData}: PNG
 * images encoded with the folder's VAE encoder, or latents) feed the forward-noised branch and the GAN's real side;
 * a JSONL prompt file may give each prompt its own DMD guidance scale.
 *
 * <pre>{@code
 * try (DistillationRun run = DistillationRun.builder(Path.of("sd35-medium-onnx"))
 *         .prompts(Path.of("prompts.txt")).folder(Path.of("runs/sd35")).build()) {
 *     run.run(CancellationToken.none());
 *     run.exportStudent(Path.of("sd35-senseflow"));
 * }
 * }</pre>
 *
 * <p>The run folder holds {@code run.json} (teacher, prompts, config, backbone and data if any, provenance),
 * {@code losses.csv} ({@code iteration,term,value}), {@code checkpoints/} and {@code embeddings/} (the prompt
 * embeddings, computed once; a resume reads them instead of running the text encoders, see {@link #embeddingCache}).
 * {@link Builder#resume} continues it bit for bit; a resume
 * from another teacher, prompt file, image size or config is refused naming {@code run.json}'s field. Every check
 * (the folder is a model, the prompt file, the run folder, the resume, the memory estimate) happens in
 * {@link Builder#build} before anything is written.
 *
 * <p>{@link Builder#dataParallel} makes the run one worker of a data-parallel run over several processes or machines
 * (TensorFlow's collectives; docs/distributed.md): same results as one process at the same global batch up to float
 * rounding, worker 0 writes the folder; no VFM backbone.
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
    /** {@code run.json}'s record of whether Grappler rewrote G's and F's graphs ({@link Builder#sessionOptions}). */
    static final String TF_GRAPH_OPTIMIZATIONS = "tf_graph_optimizations";
    /** {@code run.json}'s record of {@link TfSessionOptions#prunedGraphBuilds()} for G and F. */
    static final String TF_PRUNED_GRAPH_BUILDS = "tf_pruned_graph_builds";
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(DistillationRun.class);

    private final Path teacherDir;
    private final Path folder;
    private final ModelFamily modelFamily;
    private final String component;
    private final DistillationConfig config;
    private final LoadedModel loaded;
    private final OrtGenerator packedTeacher;
    private final StudentModules students;
    private final Mlp discriminator;
    private final io.senseflow.tf.discriminator.Discriminator vfm;
    private final VisionDiscriminator.LatentDecoder latentDecoder;
    private final Distiller distiller;
    private final CheckpointStore store;
    private final long checkpointEvery;
    private final List<String> losses = new ArrayList<>();
    private final List<DistillationListener> listeners;
    private final Optional<Long> resumedFrom;
    private final int encodedPrompts;
    private final int realCount;
    private final int encodedImages;
    private final String embeddingCache;
    private final DistillationDataset data;
    private final io.senseflow.tf.distributed.CollectiveGroup group;
    private DifferentiableModule generatorView;
    private final List<Builder.Periodic> hooks;
    private final Map<String, Function<DistillationRun, byte[]>> runFiles;
    private DifferentiableModule pluginDiscriminator;
    private DifferentiableModule pluginDecoder;
    private final Map<String, String> checkpointMetadata;
    private final Map<String, Function<DistillationRun, byte[]>> checkpointExtras;
    private final StudentExporter exporter;
    private final Function<DistillationRun, byte[]> lossesFile;
    private Checkpoint resumedCheckpoint;
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
        this.hooks = List.copyOf(b.hooks);
        this.runFiles = new java.util.LinkedHashMap<>(b.runFiles);
        this.checkpointMetadata = new LinkedHashMap<>(b.checkpointMetadata);
        this.checkpointExtras = new LinkedHashMap<>(b.checkpointExtras);
        this.exporter = b.exporter;
        this.lossesFile = b.lossesFile;
        this.encodedPrompts = p.encodedPrompts;
        this.realCount = p.real == null ? 0 : p.real.count();
        this.encodedImages = p.real == null ? 0 : p.real.encodedImages();
        this.embeddingCache = p.cacheStatus;
        this.data = p.dataset;
        this.group = b.group;
        this.store = CheckpointStore.builder(folder.resolve(CHECKPOINTS)).keepLast(2).build();
        OrtGenerator flux = null;
        StudentModules s = null;
        Mlp d = null;
        io.senseflow.tf.discriminator.Discriminator vd = null;
        VisionDiscriminator.LatentDecoder dec = null;
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
            this.generatorView = g;
            DifferentiableModule f = flow.apply(s.fakeScore());
            Distiller.Builder db = Distiller.builder().config(config).teacher(teacher).generator(g).fakeScore(f)
                    .dataset(p.dataset).listener(this::record);
            if (group != null) {
                db.dataParallel(new io.senseflow.distill.DataShard(group.task(), group.size()),
                        new io.senseflow.tf.distributed.CollectiveGradientReducer(group));
            }
            b.plugins.applyTo(db, config);
            if (b.plugins.data != null) {
                // a plug-in's batch may leave the conditioning or the unconditional embeddings to the teacher's encoder
                db.promptEncoder(loaded.promptEncoder());
            }
            if (b.probeEvery > 0) {
                db.trackingProbe(b.probeEvery);
            }
            if (config.gan().enabled() && b.plugins.discriminator != null) {
                DiscriminatorPlugin.Parts parts = b.plugins.discriminator.create(new DiscriminatorPlugin.Context(config,
                        s, p.sample, p.pooledWidth));
                if (parts == null) {
                    throw InvalidRequestException.of("discriminator plug-in " + b.plugins.discriminator,
                            "DiscriminatorPlugin.Parts", "null");
                }
                pluginDiscriminator = parts.discriminator();
                pluginDecoder = parts.decoder();
                db.discriminator(parts.discriminator()).decoder(parts.decoder());
                if (parts.augmentation() != null) {
                    db.augmentation(parts.augmentation(), parts.augmentReal());
                }
            } else if (config.gan().enabled() && p.backbone != null) {
                // SenseFlow's VFM discriminator: heads on the frozen backbone, behind the teacher's VAE decoder
                TfSessionOptions to = (b.threads > 0 ? TfSessionOptions.defaults().withIntraOpThreads(b.threads)
                        : TfSessionOptions.defaults()).withGraphOptimizations(false);
                int bs = config.batchSize();
                dec = new VisionDiscriminator.LatentDecoder(p.decoderGraph, p.decoderInput, bs, p.latentChannels,
                        p.latentHeight, p.latentWidth, modelFamily == ModelFamily.FLUX, p.vaeScale, p.vaeShift, to);
                vd = io.senseflow.tf.discriminator.Discriminator.vfm(VisionDiscriminator.backbone(p.backbone))
                        .sessionOptions(to).heads(VisionDiscriminator.heads(p.pooledWidth))
                        .optimizer(config.discriminatorOptimizer()).seed(config.seed() + 17)
                        .inputShape(bs, 3, p.latentHeight * p.downsample, p.latentWidth * p.downsample).build();
                db.discriminator(vd).decoder(dec);
            } else if (config.gan().enabled()) {
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
            // a data-parallel worker resumes whenever the folder has a checkpoint: a restarted attempt that never
            // reached its first checkpoint starts again from iteration 0 (the folder's run.json was checked above)
            Optional<Checkpoint> latest = b.resume || group != null ? store.loadLatest() : Optional.empty();
            if (b.resume && group == null && latest.isEmpty()) {
                throw InvalidRequestException.of("resume " + folder.resolve(CHECKPOINTS), "a checkpoint of the run",
                        "none");
            }
            if (latest.isPresent()) {
                Checkpoint cp = latest.get();
                requireMetadata(cp.folder(), cp.manifest(), b.checkpointMetadata);
                cp.requireArchitecture("generator", s.generator().parameters());
                resumedCheckpoint = cp;
                cp.restore(dist);
                from = Optional.of(cp.iteration());
                losses.addAll(p.lossesBefore(cp.iteration()));
            }
            if (group != null) {
                // every worker must start from the same bits (same folder, same config, same checkpoint)
                io.senseflow.tf.distributed.ParameterFingerprint.check(group, dist.snapshot(), dist.iteration());
            }
            this.resumedFrom = from;
            this.distiller = dist;
        } catch (RuntimeException e) {
            closeQuietly(s, d, vd, dec, pluginDiscriminator, pluginDecoder, flux, loaded);
            throw e;
        }
        this.vfm = vd;
        this.latentDecoder = dec;
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

    /**
     * @return the teacher as {@link Models#load} loaded it (its pipeline samples with the teacher's own scheduler; its
     *     encoders and decoder stay open until the run closes), e.g. for an {@link Builder#every} hook that compares the
     *     in-training student with the teacher
     */
    public LoadedModel teacherModel() {
        requireOpen();
        return loaded;
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

    /**
     * @return how many texts (prompts and distinct negative prompts) this run sent through the teacher's encoders
     *     while it was built: all of them for a new run, none for a resume that read the run folder's cache
     */
    public int encodedPrompts() {
        return encodedPrompts;
    }

    /**
     * @return what became of the prompt-embedding cache ({@code embeddings/} in the run folder): {@code "written"}
     *     (new run, or a resume of a run without one), {@code "read"} (resume), or {@code "rebuilt: <reason>"} when a
     *     resume found it changed, corrupted or made for another prompt file or teacher, and encoded again
     */
    public String embeddingCache() {
        return embeddingCache;
    }

    /**
     * @return the discriminator's trainable parameters: the plug-in's ({@link Builder#discriminator}), the VFM heads
     *     with {@link Builder#backbone}, else the MLP head; empty when the config has no GAN term
     */
    public Optional<ParameterStore> discriminatorParameters() {
        return Optional.ofNullable(pluginDiscriminator != null ? pluginDiscriminator.parameters() : vfm != null
                ? vfm.parameters() : discriminator != null ? discriminator.parameters() : null);
    }

    /** @return the real samples' count ({@link Builder#realData}), 0 when the run has none */
    public int realSamples() {
        return realCount;
    }

    /**
     * @return how many images this build ran through the VAE encoder: all of a {@code realData} folder's for a new
     *     run, none for latents or for a resume that read the run folder's encoded images
     */
    public int encodedImages() {
        return encodedImages;
    }

    /** @return the memory estimate the run was checked against */
    public MemoryEstimate memoryEstimate() {
        return students.estimate();
    }

    /**
     * The run's TensorFlow modules, e.g. for measurements beside the run ({@code FamilyDistillationBenchmark}).
     *
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
     * {@link io.senseflow.tf.lora.LoraGraph#merge} turn them back into a model; on the sampling side,
     * {@code Models.load(teacher, LoadOptions.builder().adapters(file).senseflowCheckpoint(true).build())} samples
     * what {@link #exportStudent} gives.
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

    /** @return the weights the student ships with: the EMA's when the config keeps one, else G's */
    public ParameterStore shippedStudent() {
        return config.emaDecay() > 0 ? students.ema().parameters() : students.generator().parameters();
    }

    /**
     * The bytes a {@link Builder#checkpointExtra} wrote into the checkpoint this run resumed from (the curves so far,
     * say), or empty for a new run or a name the checkpoint does not hold.
     *
     * @param name the extra's name
     * @return its bytes
     */
    public Optional<byte[]> resumedExtra(String name) {
        return resumedCheckpoint == null ? Optional.empty()
                : Optional.ofNullable(resumedCheckpoint.extras().get(name)).map(byte[]::clone);
    }

    /** Every {@link Builder#checkpointMetadata} entry must be in the checkpoint with the same value. */
    private static void requireMetadata(Path cp, io.senseflow.onnx.checkpoint.CheckpointManifest manifest,
                                        Map<String, String> want) {
        Map<String, String> found = manifest.metadata();
        for (Map.Entry<String, String> e : want.entrySet()) {
            String have = found.get(e.getKey());
            if (!e.getValue().equals(have)) {
                throw new io.senseflow.CheckpointException(cp + ": checkpoint metadata " + e.getKey()
                        + ": expected " + e.getValue() + " (this run's), found " + (have == null ? "none" : have)
                        + "; resume with the settings the run started with");
            }
        }
    }

    /** @return the generator as the distiller sees it (SDXL: behind the epsilon-to-flow adapter) */
    public DifferentiableModule generatorModule() {
        return generatorView;
    }

    /**
     * @return the run's data: the {@link Builder#data} plug-in's, or the prompts' cached embeddings cycled by iteration
     *     (with the real samples of {@link Builder#realData})
     */
    public DistillationDataset dataset() {
        return data;
    }

    private void record(IterationMetrics m) {
        if (group != null && group.size() > 1) {
            // each worker's losses are means over its slice; their mean is the global batch's (equal slices)
            TreeMap<String, Double> mine = new TreeMap<>(m.losses());
            float[] v = new float[mine.size()];
            int i = 0;
            for (double x : mine.values()) {
                v[i++] = (float) x;
            }
            float[] mean = group.allReduceMean("losses/" + String.join(",", mine.keySet()), v);
            i = 0;
            for (String k : mine.keySet()) {
                losses.add(m.iteration() + "," + k + "," + mean[i++]);
            }
        } else {
            new TreeMap<>(m.losses()).forEach((k, v) -> losses.add(m.iteration() + "," + k + "," + v));
        }
        for (DistillationListener l : listeners) {
            l.onIteration(m);
        }
        long completed = m.iteration() + 1;
        for (Builder.Periodic h : hooks) {
            if (completed % h.every() == 0 || completed == config.iterations()) {
                h.hook().at(this, completed, m);
            }
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

    /**
     * Saves a checkpoint of the current iteration and the losses so far (both atomically). In a data-parallel run
     * every worker calls it at the same iteration: the workers first check that their parameters are bit-identical
     * ({@code ParameterFingerprint}), then worker 0 alone writes.
     */
    public void save() {
        requireOpen();
        TrainingSnapshot snap = distiller.snapshot();
        if (group != null) {
            io.senseflow.tf.distributed.ParameterFingerprint.check(group, snap, distiller.iteration());
            if (group.task() != 0) {
                return;
            }
        }
        if (checkpointMetadata.isEmpty() && checkpointExtras.isEmpty()) {
            store.save(snap);
        } else {
            Map<String, AtomicFiles.Writer> extras = new LinkedHashMap<>();
            checkpointExtras.forEach((name, content) -> {
                byte[] bytes = Objects.requireNonNull(content.apply(this), "checkpoint extra " + name);
                extras.put(name, ch -> ch.write(java.nio.ByteBuffer.wrap(bytes)));
            });
            store.save(snap, extras, checkpointMetadata);
        }
        if (lossesFile != null) {
            AtomicFiles.write(folder.resolve(LOSSES), Objects.requireNonNull(lossesFile.apply(this), "losses file"));
        } else {
            StringBuilder sb = new StringBuilder("iteration,term,value\n");
            losses.forEach(l -> sb.append(l).append('\n'));
            AtomicFiles.write(folder.resolve(LOSSES), sb.toString().getBytes(StandardCharsets.UTF_8));
        }
        runFiles.forEach((name, content) -> {
            byte[] bytes = content.apply(this);
            if (bytes != null) {
                AtomicFiles.write(folder.resolve(name), bytes);
            }
        });
    }

    /**
     * Writes the student as a model folder in the teacher's own layout: a copy of the teacher's folder whose denoiser
     * ({@code transformer/} or {@code unet/}) is the student (EMA weights when the config keeps an EMA), with
     * {@code "senseflow_checkpoint": true} in {@code model_index.json}, so {@link Models#load} samples it with the
     * few-step scheduler. A teacher in the SDK's own layout gives a folder in that layout ({@code SenseFlowFolder}):
     * the teacher's tokenizer, text encoder and autoencoder, the student's transformer, the few-step scheduler on the
     * config's anchors without guidance. The folder appears whole or not at all.
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
        ParameterStore studentWeights = shippedStudent();
        if (exporter != null) {
            return Objects.requireNonNull(exporter.export(this, dir), "the exporter's folder");
        }
        if (modelFamily == ModelFamily.SENSEFLOW) {
            try {
                Files.deleteIfExists(dir);
            } catch (IOException e) {
                throw new UncheckedIOException("exporting the student to " + dir + ": " + e.getMessage(), e);
            }
            return SenseFlowTeacher.writeStudent(teacherDir, studentExport(studentWeights)
                    .withProvenance(provenance()).model(), config.anchors(), provenance(), dir);
        }
        Path tmp = dir.resolveSibling(dir.getFileName() + ".partial-" + System.nanoTime());
        try {
            FileTrees.copy(teacherDir, tmp);
            Path comp = tmp.resolve(component);
            Files.deleteIfExists(comp.resolve("model.onnx_data"));
            studentExport(studentWeights).withProvenance(provenance()).writeModel(comp
                    .resolve("model.onnx"));
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

    /** The student's ONNX export: a LoRA student merged ({@code W + (alpha/rank) down up}) in the teacher's graph. */
    private OnnxExport studentExport(ParameterStore weights) {
        return students.lora() != null ? OnnxExport.of(students.lora().merge(weights.snapshot()), Map.of())
                : OnnxExport.of(students.studentGraph(), weights);
    }

    private Map<String, String> provenance() {
        return Map.of("senseflow.teacher", teacherDir.toString(), "senseflow.iteration",
                Long.toString(distiller.iteration()), "senseflow.recipe", config.gan().enabled() ? "gan" : "no-gan");
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
            closeQuietly(students, discriminator, vfm, latentDecoder, pluginDiscriminator, pluginDecoder, packedTeacher,
                    loaded);
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
        EmbeddingCache.Embeddings embeddings;
        RealData real;
        OnnxModel backbone;
        OnnxModel decoderGraph;
        String decoderInput;
        float vaeScale = 1;
        float vaeShift;
        int latentChannels;
        int latentHeight;
        int downsample;
        Runnable writeCache;
        int encodedPrompts;
        String cacheStatus = "written";

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
        private Path backbone;
        private Path realData;
        private final ResearchPlugins plugins = new ResearchPlugins();
        private final Map<String, String> checkpointMetadata = new LinkedHashMap<>();
        private final Map<String, Function<DistillationRun, byte[]>> checkpointExtras = new LinkedHashMap<>();
        private StudentExporter exporter;
        private TfSessionOptions tfOptions;
        private Function<DistillationRun, byte[]> lossesFile;
        private io.senseflow.tf.lora.LoraConfig lora;
        private io.senseflow.tf.lora.LoraConfig resolvedLora;
        private io.senseflow.tf.distributed.CollectiveGroup group;
        private long probeEvery;
        private final List<Periodic> hooks = new ArrayList<>();
        private final Map<String, Function<DistillationRun, byte[]>> runFiles = new java.util.LinkedHashMap<>();
        private final Map<String, String> runInfo = new LinkedHashMap<>();

        /** A hook and its period. */
        private record Periodic(long every, RunHook hook) {
        }

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

        /**
         * Makes this process worker {@code group.task()} of a data-parallel run of {@code group.size()} workers (see
         * docs/distributed.md): every worker builds the same run on the same folder with the same settings; each
         * computes its slice of every global batch ({@code batchSize / size} samples, which must divide), the
         * gradients are averaged over the group before every optimizer step, losses are averaged before they are
         * recorded, and at every checkpoint (and at the start) the workers check that their parameters are
         * bit-identical. Worker 0 alone writes {@code run.json} (with the worker count), the prompt cache,
         * {@code losses.csv} and the checkpoints; export the student from worker 0. A worker resumes whenever the
         * folder holds a checkpoint. The GAN term runs with its MLP head; a {@link #backbone} (VFM discriminator) is
         * refused: its per-sample draws are not sharded.
         *
         * @param group the joined group ({@code CollectiveGroup.join}); not closed by the run
         * @return this
         */
        public Builder dataParallel(io.senseflow.tf.distributed.CollectiveGroup group) {
            this.group = java.util.Objects.requireNonNull(group, "group");
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
         * A vision backbone for SenseFlow's VFM discriminator (e.g. a DINOv2 export, docs/discriminator.md): the
         * GAN term's discriminator becomes small heads on taps of the frozen backbone, looking at the generator's
         * samples (and the real ones) decoded by the teacher's VAE decoder, instead of the MLP head on latents. The
         * heads train only on batches with real samples ({@link #realData}).
         *
         * @param onnx the backbone's ONNX file (a vision model taking images {@code [B, 3, H, W]}); with
         *     {@link #resume}, optional (run.json's)
         * @return this
         */
        public Builder backbone(Path onnx) {
            this.backbone = onnx == null ? null : onnx.toAbsolutePath().normalize();
            return this;
        }

        /**
         * Real samples for the forward-noised generator input (taken with probability {@code 1 -
         * backwardSimulation} per batch) and the GAN's real side ({@link RealData}): a folder of PNG images of the
         * run's size, encoded once with the teacher's {@code vae_encoder/}, or a {@code .safetensors} file of latents
         * {@code [N, C, h, w]}.
         *
         * @param dirOrFile the folder or file; with {@link #resume}, optional (run.json's)
         * @return this
         */
        public Builder realData(Path dirOrFile) {
            this.realData = dirOrFile == null ? null : dirOrFile.toAbsolutePath().normalize();
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
         * Replaces the generator's terms: the function gets the run's config (the family preset with the overrides)
         * and returns the objectives the generator update sums, e.g. the config's own plus yours, or a DMD term with
         * your noise-level sampler. Objectives added with {@link #addObjective} come after these. Their losses appear
         * in {@code losses.csv} under their names.
         *
         * @param terms the run's config to the objectives
         * @return this
         */
        public Builder objectives(Function<DistillationConfig, List<DistillationObjective>> terms) {
            plugins.objectives = Objects.requireNonNull(terms, "objectives");
            return this;
        }

        /**
         * Adds a generator term to the config's (DMD, ISG, GAN as the recipe has them), or to those of
         * {@link #objectives}.
         *
         * @param term your objective (weight it with {@link DistillationObjective#weighted})
         * @return this
         */
        public Builder addObjective(DistillationObjective term) {
            plugins.extra.add(Objects.requireNonNull(term, "objective"));
            return this;
        }

        /**
         * Replaces the config's fake-score noise-level distribution (docs/algorithm.md §4.7) with your sampler.
         *
         * @param sampler the sampler
         * @return this
         */
        public Builder fakeScoreTimesteps(TimestepSampler sampler) {
            plugins.fakeScoreTimesteps = Objects.requireNonNull(sampler, "fakeScoreTimesteps");
            return this;
        }

        /**
         * Builds the GAN term's discriminator with your code instead of the run's MLP head (or VFM discriminator):
         * {@code plugin} gets the run's config and imported modules and returns the discriminator, its optional
         * frozen decoder and augmentation ({@link DiscriminatorPlugin}). Used only when the config's GAN term is on;
         * refused together with {@link #backbone}. Its name is recorded in {@code run.json} like the other plug-ins,
         * so a resume must set the same one. The memory estimate does not count its parameters.
         *
         * @param plugin the factory
         * @return this
         */
        public Builder discriminator(DiscriminatorPlugin plugin) {
            plugins.discriminator = Objects.requireNonNull(plugin, "discriminator");
            return this;
        }

        /**
         * Calls {@code hook} after every {@code n}-th iteration and after the config's last (a periodic evaluation of
         * the in-training student, say); hooks run in the order added, after the listeners.
         *
         * @param n iterations between calls, at least 1
         * @param hook the code
         * @return this
         */
        public Builder every(long n, RunHook hook) {
            if (n < 1) {
                throw InvalidRequestException.of("every", "at least 1 iteration", n);
            }
            hooks.add(new Periodic(n, Objects.requireNonNull(hook, "hook")));
            return this;
        }

        /**
         * Writes an extra file into the run folder at every checkpoint (after {@code losses.csv}, atomically, by
         * worker 0 alone in a data-parallel run): {@code content} gets the run and returns the file's bytes, e.g. a CSV
         * of what an {@link #every} hook measured, or a plot, or null to leave the file as it is this time (nothing
         * measured yet). A second call with the same name replaces the first.
         *
         * @param name a plain file name, not one the run writes itself ({@value #RUN_JSON}, {@value #LOSSES},
         *     {@value #CHECKPOINTS}, the prompt cache)
         * @param content the run to the file's bytes
         * @return this
         */
        public Builder runFile(String name, Function<DistillationRun, byte[]> content) {
            Objects.requireNonNull(name, "name");
            if (!plainFileName(name) || name.equals(RUN_JSON) || name.equals(LOSSES) || name.equals(CHECKPOINTS)
                    || name.startsWith("prompts.") || name.equals("manifest.json")) {
                throw InvalidRequestException.of("runFile name", "a plain file name the run does not write itself",
                        name);
            }
            runFiles.put(name, Objects.requireNonNull(content, "content"));
            return this;
        }

        /**
         * Records a fact about the run in {@code run.json} under {@code info} (the command line, the preset name, the
         * tool that started it). A description only: written once, when the run starts, and not compared on resume (a
         * resume keeps the recorded file). A second call with the same key replaces the first.
         *
         * @param key a non-blank key
         * @param value the value
         * @return this
         */
        public Builder runInfo(String key, String value) {
            runInfo.put(requireKey("runInfo key", key), Objects.requireNonNull(value, "value"));
            return this;
        }

        /**
         * Measures {@link io.senseflow.distill.TrackingProbe} (does the fake score track the generator?) before every
         * {@code every}-th iteration, iteration 0 included; its values join that iteration's losses (and
         * {@code losses.csv}) under {@code track.}. Forward passes only: the student's bits do not change. Not in a
         * data-parallel run.
         *
         * @param every iterations between measurements; 0 (the default) for none
         * @return this
         */
        public Builder trackingProbe(long every) {
            if (every < 0) {
                throw InvalidRequestException.of("trackingProbe", "0 (off) or more iterations", every);
            }
            probeEvery = every;
            return this;
        }

        /**
         * Takes the run's batches from {@code plugin} instead of the prompt file ({@link DataPlugin}: e.g. images
         * rendered and captioned per iteration, encoded with the teacher's own encoders). A run with a data plug-in
         * needs no {@link #prompts} and takes no {@link #realData} (the plug-in gives the real samples). Recorded in
         * {@code run.json} under {@code plugins}, so a resume must set the same one.
         *
         * @param plugin the data
         * @return this
         */
        public Builder data(DataPlugin plugin) {
            plugins.data = Objects.requireNonNull(plugin, "data");
            return this;
        }

        /**
         * Puts {@code key = value} into the metadata of every checkpoint the run saves, and requires it of the
         * checkpoint a resume starts from: a checkpoint without the key, or with another value, is refused with a
         * {@link io.senseflow.CheckpointException} naming the key, this run's value and the checkpoint's, before the
         * checkpoint is restored (a preset name, the fingerprint of a file the run depends on).
         *
         * @param key a metadata key
         * @param value its value
         * @return this
         */
        public Builder checkpointMetadata(String key, String value) {
            checkpointMetadata.put(requireKey("checkpointMetadata key", key), Objects.requireNonNull(value, "value"));
            return this;
        }

        private static String requireKey(String field, String key) {
            if (key == null || key.isBlank()) {
                throw InvalidRequestException.of(field, "a non-blank key", String.valueOf(key));
            }
            return key;
        }

        /**
         * Writes an extra file into every checkpoint the run saves ({@code extras/NAME}, verified with the
         * checkpoint): {@code content} gets the run and returns the bytes, e.g. the curves so far; a resumed run reads
         * the last checkpoint's with {@link DistillationRun#resumedExtra}. A second call with the same name replaces
         * the first.
         *
         * @param name a plain file name
         * @param content the run to the file's bytes
         * @return this
         */
        public Builder checkpointExtra(String name, Function<DistillationRun, byte[]> content) {
            Objects.requireNonNull(name, "name");
            if (!plainFileName(name)) {
                throw InvalidRequestException.of("checkpointExtra name", "a plain file name", name);
            }
            checkpointExtras.put(name, Objects.requireNonNull(content, "content"));
            return this;
        }

        /** @return whether {@code name} names a file directly inside a folder (no separator, not hidden or empty) */
        private static boolean plainFileName(String name) {
            return !name.isEmpty() && !name.startsWith(".") && !name.contains("/") && !name.contains("\\");
        }

        /**
         * Writes the student with {@code exporter} when {@link DistillationRun#exportStudent} is called, in place of
         * the default copy of the teacher's folder (the folder check, new or empty, still happens first).
         *
         * @param exporter the export
         * @return this
         */
        public Builder exporter(StudentExporter exporter) {
            this.exporter = Objects.requireNonNull(exporter, "exporter");
            return this;
        }

        /**
         * The TensorFlow session options of G and F (and the EMA), in place of the run's default: {@link #threads}
         * intra-op threads, Grappler off, pruned graph builds. Grappler rewrites change the last bits of the results,
         * so a run and its resume must use the same options; code that must reproduce a run made with other options
         * (the Shapes commands, which keep Grappler on) sets them here. {@code run.json} records whether Grappler and
         * the pruned graph builds were on ({@code tf_graph_optimizations}, {@code tf_pruned_graph_builds}); a resume
         * without this call takes them from there, one with other settings is refused naming the field.
         *
         * @param options the options, intra-op threads included
         * @return this
         */
        public Builder sessionOptions(TfSessionOptions options) {
            this.tfOptions = Objects.requireNonNull(options, "sessionOptions");
            return this;
        }

        /**
         * Writes {@value #LOSSES} with your layout instead of the run's long one ({@code iteration,term,value}), at
         * every checkpoint: e.g. one row per iteration and one column per term, from a listener's record of the
         * metrics. A resumed run keeps your file's earlier rows only if your code restores them (say from a
         * {@link #checkpointExtra}); the run's own long record is not kept alongside.
         *
         * @param content the run to the file's bytes
         * @return this
         */
        public Builder lossesFile(Function<DistillationRun, byte[]> content) {
            this.lossesFile = Objects.requireNonNull(content, "lossesFile");
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
                if (prompts == null && plugins.data == null && recorded.has("prompts")) {
                    prompts = Path.of(recorded.getString("prompts"));
                }
                resumeDefaults(recorded);
                if (backbone == null && recorded.has("backbone")) {
                    backbone = Path.of(recorded.getString("backbone"));
                }
                if (realData == null && recorded.has("data")) {
                    realData = Path.of(recorded.getString("data"));
                }
            } else if (group != null && Files.exists(folder)) {
                // the workers share the folder (their status files, an earlier attempt's run.json): only a folder
                // that already has checkpoints is another run
                if (Files.isDirectory(folder.resolve(CHECKPOINTS)) && !FileTrees.isEmptyDirectory(folder
                        .resolve(CHECKPOINTS))) {
                    throw InvalidRequestException.of("run folder " + folder, "a new folder, or a run's folder with"
                            + " resume", "the folder of an existing run with checkpoints");
                }
                // a run.json without checkpoints is an earlier attempt that never reached its first checkpoint:
                // worker 0 writes it again
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
            if (prompts == null && plugins.data == null) {
                throw InvalidRequestException.of("prompts", "a prompt file (one prompt per line)", "none");
            }
            if (plugins.data != null && prompts != null) {
                throw InvalidRequestException.of("prompts " + prompts, "no prompt file with a data plug-in (the"
                        + " plug-in gives the prompts)", "a prompt file");
            }
            if (plugins.data != null && realData != null) {
                throw InvalidRequestException.of("data " + realData, "no real data with a data plug-in (the plug-in"
                        + " gives the real samples)", "a data file or folder");
            }
            PromptFile promptFile = prompts == null ? null : PromptFile.read(prompts);
            if (resume && group == null && !checkpointMetadata.isEmpty()) {
                // the caller's checkpoint metadata, checked on the manifest before the teacher loads
                Optional<Path> latest = Files.isDirectory(folder.resolve(CHECKPOINTS)) ? CheckpointStore.builder(
                        folder.resolve(CHECKPOINTS)).keepLast(2).build().latest() : Optional.empty();
                if (latest.isPresent()) {
                    Path manifest = latest.get().resolve(io.senseflow.onnx.checkpoint.CheckpointManifest.FILE_NAME);
                    try {
                        requireMetadata(latest.get(), io.senseflow.onnx.checkpoint.CheckpointManifest.fromJson(
                                Files.readString(manifest), manifest.toString()), checkpointMetadata);
                    } catch (IOException e) {
                        throw new io.senseflow.CheckpointException(manifest + ": not readable (" + e + ")");
                    }
                }
            }
            OnnxModel backboneModel = backbone == null ? null : VisionDiscriminator.readBackbone(backbone);
            if (realData != null && !Files.exists(realData)) {
                throw InvalidRequestException.of("data " + realData, "a folder of PNG images or a latents"
                        + " .safetensors file", "no such file or folder");
            }

            LoadedModel loaded = Models.load(teacher, loadOptions);
            try {
                return new DistillationRun(this, prepare(loaded, promptFile, recorded, runJson, previousLosses,
                        backboneModel));
            } catch (RuntimeException e) {
                loaded.close();
                throw e;
            }
        }

        private Prepared prepare(LoadedModel loaded, PromptFile promptFile, JsonObject recorded, Path runJson,
                                 List<String> previousLosses, OnnxModel backboneModel) {
            Prepared p = new Prepared();
            p.backbone = backboneModel;
            p.loaded = loaded;
            p.previousLosses = previousLosses;
            ModelFamily mf = loaded.family();
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
                default -> Family.CUSTOM;   // the SDK's own layout: the preset's family-neutral constants
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
            if (group != null) {
                requireDataParallel(cfg);
            }
            if (backboneModel != null && !cfg.gan().enabled()) {
                throw InvalidRequestException.of("backbone " + backbone, "no backbone (the config's GAN term is off;"
                        + " the backbone is its discriminator)", "a backbone");
            }
            if (backboneModel != null && plugins.discriminator != null) {
                throw InvalidRequestException.of("backbone " + backbone, "no backbone with a discriminator plug-in"
                        + " (Builder.discriminator builds the discriminator)", "a backbone");
            }
            if (backboneModel != null && realData == null && plugins.data == null) {
                LOG.warn("backbone {} without real data: the discriminator trains only on batches with real samples"
                        + " (Builder.realData, --data)", backbone);
            }
            String pluginIds = plugins.describe(cfg);
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
            p.latentHeight = lh;
            p.latentChannels = format.channels();
            p.downsample = format.downsample();
            String fingerprint = fingerprint(mf, p.component, graphFile);
            if (recorded != null) {
                requireSame(runJson, "teacher_fingerprint", recorded.getString("teacher_fingerprint", ""),
                        fingerprint, "the teacher " + teacher);
                requireSame(runJson, "prompts_sha256", recorded.getString("prompts_sha256", "none"),
                        promptFile == null ? "none" : promptFile.sha256(), promptFile == null ? "the data plug-in"
                        : "the prompt file " + promptFile.file());
                requireSame(runJson, "image_size", recorded.getString("image_size", ""), w + "x" + h, "this size");
                if (recorded.has("t5_sequence_length")) {
                    requireSame(runJson, "t5_sequence_length", Long.toString(recorded.getLong("t5_sequence_length", 0)),
                            loadOptions.t5SequenceLength().map(String::valueOf).orElse("the folder's default"),
                            "this T5 length");
                }
                // Grappler's rewrites change the last bits: a run folder written before this field existed ran with it off
                requireSame(runJson, TF_GRAPH_OPTIMIZATIONS, Boolean.toString(recorded.getBoolean(
                        TF_GRAPH_OPTIMIZATIONS, false)), Boolean.toString(tfOptions().graphOptimizations()),
                        "these TensorFlow session options (Builder.sessionOptions)");
                if (recorded.has(TF_PRUNED_GRAPH_BUILDS)) {
                    requireSame(runJson, TF_PRUNED_GRAPH_BUILDS, Boolean.toString(recorded.getBoolean(
                            TF_PRUNED_GRAPH_BUILDS, true)), Boolean.toString(tfOptions().prunedGraphBuilds()),
                            "these TensorFlow session options (Builder.sessionOptions)");
                }
                requireSame(runJson, "backbone_fingerprint", recorded.getString("backbone_fingerprint", "none"),
                        backbone == null ? "none" : fileFingerprint(backbone), backbone == null ? "no backbone"
                        : "the backbone " + backbone);
                requireSame(runJson, ResearchPlugins.RUN_JSON_FIELD, recorded.getString(ResearchPlugins.RUN_JSON_FIELD,
                        ""), pluginIds, "this builder's objectives, fake-score sampler and discriminator");
                String want = DistillationConfig.fromJson(recorded.getString("config")).toBuilder().iterations(1)
                        .build().toJson();
                if (!want.equals(cfg.toBuilder().iterations(1).build().toJson())) {
                    throw InvalidRequestException.of("resume " + runJson + " config", "the run's config (only"
                            + " iterations may change on resume)", "a different config");
                }
            }

            // real samples first: a bad data file is refused before the prompts are encoded
            if (realData != null) {
                p.real = RealData.read(realData, loaded.imageEncoder(), teacher, format.channels(), lh, lw, w, h,
                        mf == ModelFamily.FLUX, folder.resolve(RealData.CACHE), fingerprint);
                if (recorded != null) {
                    requireSame(runJson, "data_sha256", recorded.getString("data_sha256", "none"), p.real.sha256(),
                            "the data " + realData);
                }
            } else if (recorded != null) {
                requireSame(runJson, "data_sha256", recorded.getString("data_sha256", "none"), "none", "no data");
            }
            p.sample = mf == ModelFamily.FLUX ? new int[] {(lh / 2) * (lw / 2), 4 * format.channels()}
                    : new int[] {format.channels(), lh, lw};
            int[] sample = p.sample;
            Conditioning first;
            if (plugins.data != null) {
                // the data plug-in: its batches in place of the prompt file's (batch(0, 1) gives the shapes)
                DistillationDataset own = Objects.requireNonNull(plugins.data.create(new DataPlugin.Context(cfg,
                        loaded, sample)), "the data plug-in's dataset");
                if (!java.util.Arrays.equals(own.sampleShape(), sample)) {
                    throw InvalidRequestException.of("data plug-in " + plugins.data + " sampleShape",
                            java.util.Arrays.toString(sample), java.util.Arrays.toString(own.sampleShape()));
                }
                p.dataset = own;
                first = own.batch(0, 1).conditioning();
            } else {
                RealData real = p.real;
                // prompts: encoded once with the teacher's encoders, cached in the run folder (embeddings/) for resumes
                if (promptFile.hasGuidance() && cfg.dmd().enabled() && cfg.dmd().guidance()
                        instanceof io.senseflow.distill.TeacherGuidance.None) {
                    throw InvalidRequestException.of("prompts " + promptFile.file() + " guidance", "no per-prompt"
                            + " \"guidance\" (the config's DMD guidance is none)", "per-prompt guidance scales");
                }
                EmbeddingCache.Key cacheKey = new EmbeddingCache.Key(promptFile.sha256(), fingerprint,
                        loadOptions.t5SequenceLength().map(String::valueOf).orElse("default"));
                EmbeddingCache.Embeddings embedded = null;
                if (recorded != null) {
                    EmbeddingCache.Lookup hit = EmbeddingCache.read(folder, cacheKey, promptFile.prompts().size());
                    embedded = hit.embeddings();
                    p.cacheStatus = embedded != null ? "read" : hit.rejected().equals("none") ? "written" : "rebuilt: "
                            + hit.rejected();
                    if (embedded == null && !hit.rejected().equals("none")) {
                        LOG.warn("prompt embedding cache not used, encoding the prompts again and rewriting it: {}",
                                hit.rejected());
                    }
                }
                if (embedded == null) {
                    embedded = encodeAll(loaded, promptFile);
                    p.encodedPrompts = embedded.prompts().size() + embedded.negatives().size();
                    p.writeCache = () -> EmbeddingCache.write(folder, cacheKey, p.embeddings);
                }
                p.embeddings = embedded;
                List<Conditioning> cond = new ArrayList<>();
                List<Conditioning> uncond = new ArrayList<>();
                for (int i = 0; i < promptFile.prompts().size(); i++) {
                    cond.add(withSize(mf, embedded.prompts().get(i), w, h));
                    int j = embedded.negatives().indexOf(promptFile.negatives().get(i));
                    uncond.add(withSize(mf, embedded.negativeEmbeddings().get(j), w, h));
                }
                float[] guidance = new float[promptFile.prompts().size()];
                for (int i = 0; i < guidance.length; i++) {
                    guidance[i] = promptFile.guidance().get(i).floatValue();
                }
                boolean perPromptGuidance = promptFile.hasGuidance();
                first = cond.get(0);
                p.dataset = new DistillationDataset() {
                    @Override
                    public DistillationBatch batch(long iteration, int size) {
                        List<Conditioning> c = new ArrayList<>();
                        List<Conditioning> u = new ArrayList<>();
                        float[] g = new float[size];
                        for (int j = 0; j < size; j++) {
                            int k = (int) Math.floorMod(iteration * size + j, (long) cond.size());
                            c.add(cond.get(k));
                            u.add(uncond.get(k));
                            g[j] = guidance[k];
                        }
                        return new DistillationBatch(List.of(), Conditioning.concat(c), Conditioning.concat(u),
                                real == null ? null : real.batch(iteration, size), perPromptGuidance ? g : null);
                    }

                    @Override
                    public int[] sampleShape() {
                        return sample.clone();
                    }
                };
            }
            p.textLength = first.tokens().dim(1);
            p.pooledWidth = first.pooled() == null ? 0 : first.pooled().dim(1);

            p.graph = mf == ModelFamily.SENSEFLOW ? SenseFlowTeacher.component(teacher, p.component)
                    : OnnxModel.read(graphFile);
            DenoiserSpec spec = switch (mf) {
                case SD3 -> DenoiserSpec.sd3();
                case FLUX -> DenoiserSpec.flux();
                case SENSEFLOW -> DenoiserSpec.inHouse();
                default -> DenoiserSpec.sdxl();
            };
            StudentModules.Builder sb = StudentModules.builder(p.graph, spec).batchSize(group == null
                    ? cfg.batchSize() : cfg.batchSize() / group.size())
                    .generatorOptimizer(cfg.generatorOptimizer()).fakeScoreOptimizer(cfg.fakeScoreOptimizer())
                    .ema(cfg.emaDecay() > 0)
                    .sessionOptions(tfOptions());
            estimateShapes(sb, spec, sample, first);
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
            if (backboneModel != null) {
                Path decoderFile = teacher.resolve("vae_decoder/model.onnx");
                if (!Files.isRegularFile(decoderFile)) {
                    throw InvalidRequestException.of("backbone " + backbone, "a teacher with a VAE decoder (the"
                            + " discriminator looks at decoded images)", "no " + decoderFile);
                }
                p.decoderGraph = OnnxModel.read(decoderFile);
                p.decoderInput = p.decoderGraph.graph().inputs().get(0).name();
                if (loaded.decoder() instanceof io.senseflow.onnx.runtime.OrtImageDecoder od) {
                    p.vaeScale = od.scalingFactor();
                    p.vaeShift = od.shiftFactor();
                }
                io.senseflow.tf.discriminator.HeadSpec hs = VisionDiscriminator.heads(p.pooledWidth);
                long heads = VisionDiscriminator.headParameters(backboneModel, hs, p.pooledWidth);
                long frozen = VisionDiscriminator.parameters(backboneModel);
                long decoderParams = VisionDiscriminator.parameters(p.decoderGraph);
                sb.estimateAlso(e -> e.trainable("discriminator (VFM heads on the backbone)", heads, frozen)
                        .frozen("VAE decoder in TensorFlow (in front of the discriminator)", decoderParams, false));
            } else {
                sb.estimateAlso(e -> e.trainable("discriminator (MLP head)", cfg.gan().enabled()
                        && plugins.discriminator == null
                        ? (long) 16 * (sampleSize(sample) + p.pooledWidth) + 16 + 17 : 0, 0));
            }
            p.students = sb;
            // the memory check happens in StudentModules.Builder.build(), before any import; run.json comes first
            // only when the run is new (a resume keeps the recorded file)
            MemoryEstimate estimate = sb.estimate();
            estimate.requireFits(budget != null ? budget : MemoryBudget.detect());
            boolean writer = group == null || group.task() == 0;
            if (recorded != null && group != null && recorded.has("workers")
                    && recorded.getLong("workers", 0) != group.size()) {
                // the config (global batch included) was required to be the run's above: the draws are addressed by
                // global sample index, so another worker count continues the same run up to float rounding
                LOG.info("{}: the run was started with {} workers, it continues with {} (same global batch {})",
                        runJson, recorded.getLong("workers", 0), group.size(), cfg.batchSize());
            }
            if (recorded == null && writer) {
                writeRunJson(runJson, mf, p.component, fingerprint, promptFile, w, h, cfg, p.real, pluginIds);
            }
            if (p.writeCache != null && writer) {
                p.writeCache.run();
            }
            if (p.real != null && p.real.encodedImages() > 0 && writer) {
                p.real.writeCache(folder, fingerprint);
            }
            return p;
        }

        /** The data-parallel checks, on the final config, before anything is written. */
        private void requireDataParallel(DistillationConfig cfg) {
            if (cfg.gan().enabled() && backbone != null) {
                throw InvalidRequestException.of("workers", "no backbone in a data-parallel run (the VFM"
                        + " discriminator draws its own inputs per sample, which are not sharded yet; the GAN term with"
                        + " the MLP head, without --backbone, is supported)", "the backbone " + backbone + " and "
                        + group.size() + " workers");
            }
            if (cfg.batchSize() % group.size() != 0) {
                throw InvalidRequestException.of("workers", "a count that divides the global batch " + cfg.batchSize()
                        + " (each worker computes batch / workers samples)", group.size());
            }
        }

        /** @return G's and F's TensorFlow options: {@link #sessionOptions}'s, else the front door's defaults */
        private TfSessionOptions tfOptions() {
            return tfOptions != null ? tfOptions : (threads > 0 ? TfSessionOptions.defaults().withIntraOpThreads(threads)
                    : TfSessionOptions.defaults()).withGraphOptimizations(false).withPrunedGraphBuilds(true);
        }

        /**
         * What a resume takes from {@code run.json} when the builder leaves it unset: the image size, the T5 length,
         * the TensorFlow and ONNX Runtime thread counts, TensorFlow's Grappler and pruned-build settings (so
         * {@code --resume RUN} alone continues the run as it was).
         */
        private void resumeDefaults(JsonObject recorded) {
            String size = recorded.getString("image_size", "");
            int x = size.indexOf('x');
            if (width == 0 && height == 0 && x > 0) {
                try {
                    width = Integer.parseInt(size.substring(0, x));
                    height = Integer.parseInt(size.substring(x + 1));
                } catch (NumberFormatException e) {
                    throw InvalidRequestException.of("resume " + folder.resolve(RUN_JSON) + " image_size", "WxH",
                            size);
                }
            }
            long t5 = recorded.has("t5_sequence_length") ? recorded.getLong("t5_sequence_length", 0) : 0;
            if (t5 > 0 && loadOptions.t5SequenceLength().isEmpty()) {
                loadOptions = loadOptions.toBuilder().t5SequenceLength((int) t5).build();
            }
            long ort = recorded.getLong("ort_intra_op_threads", 0);
            if (ort > 0 && sessionConfig.equals(SessionConfig.defaults())) {
                sessionConfig = SessionConfig.builder().intraOpThreads((int) ort).interOpThreads(
                        (int) Math.max(1, recorded.getLong("ort_inter_op_threads", 1))).build();
                loadOptions = loadOptions.toBuilder().sessionConfig(sessionConfig).build();
            }
            if (threads == 0) {
                threads = (int) recorded.getLong("threads", 0);
            }
            if (tfOptions == null && recorded.has(TF_GRAPH_OPTIMIZATIONS)) {
                TfSessionOptions base = tfOptions();   // the defaults, with the threads resolved above
                boolean grappler = recorded.getBoolean(TF_GRAPH_OPTIMIZATIONS, false);
                boolean pruned = recorded.getBoolean(TF_PRUNED_GRAPH_BUILDS, base.prunedGraphBuilds());
                if (grappler != base.graphOptimizations() || pruned != base.prunedGraphBuilds()) {
                    tfOptions = base.withGraphOptimizations(grappler).withPrunedGraphBuilds(pruned);
                }
            }
        }

        /** Every prompt and every distinct negative prompt through the teacher's own encoders, one at a time. */
        private static EmbeddingCache.Embeddings encodeAll(LoadedModel loaded, PromptFile pf) {
            List<Conditioning> cond = new ArrayList<>();
            List<String> negatives = new ArrayList<>();
            List<Conditioning> neg = new ArrayList<>();
            for (int i = 0; i < pf.prompts().size(); i++) {
                cond.add(loaded.promptEncoder().encode(List.of(pf.prompts().get(i))));
                String n = pf.negatives().get(i);
                if (!negatives.contains(n)) {
                    negatives.add(n);
                    neg.add(loaded.promptEncoder().encode(List.of(n)));
                }
            }
            return new EmbeddingCache.Embeddings(cond, negatives, neg);
        }

        /**
         * The run's input shapes for the memory estimate (the modules import at their call shapes; a graph whose sizes
         * are symbolic, e.g. SDXL's UNet, would otherwise have no activations counted): the sample, the token and
         * pooled embeddings and the conditioning extras, at the run's batch (the timestep keeps the graph's shape).
         */
        private static void estimateShapes(StudentModules.Builder sb, DenoiserSpec spec, int[] sample, Conditioning c) {
            long[] x = new long[sample.length + 1];
            x[0] = -1;
            for (int i = 0; i < sample.length; i++) {
                x[i + 1] = sample[i];
            }
            sb.estimateShape(spec.sample(), x);
            if (spec.tokens() != null && c.tokens() != null) {
                sb.estimateShape(spec.tokens(), perSample(c.tokens()));
            }
            if (spec.pooled() != null && c.pooled() != null) {
                sb.estimateShape(spec.pooled(), perSample(c.pooled()));
            }
            for (String e : spec.extras()) {
                io.senseflow.tensor.Tensor t = c.extras().get(e);
                if (t != null && t.shape().length > 0 && t.shape()[0] == c.batch()) {
                    sb.estimateShape(e, perSample(t));
                }
            }
        }

        /** A tensor's shape with the batch dimension as -1 (the run's batch). */
        private static long[] perSample(io.senseflow.tensor.Tensor t) {
            int[] s = t.shape();
            long[] d = new long[s.length];
            d[0] = -1;
            for (int i = 1; i < s.length; i++) {
                d[i] = s[i];
            }
            return d;
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
                                  int w, int h, DistillationConfig cfg, RealData real, String pluginIds) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("format", FORMAT);
            m.put("version", 1L);
            m.put("teacher", teacher.toString());
            m.put("family", mf.id());
            m.put("denoiser", component);
            m.put("teacher_fingerprint", fingerprint);
            if (pf != null) {
                m.put("prompts", pf.file().toAbsolutePath().normalize().toString());
                m.put("prompts_sha256", pf.sha256());
                m.put("prompt_count", (long) pf.prompts().size());
            }
            m.put("image_size", w + "x" + h);
            loadOptions.t5SequenceLength().ifPresent(n -> m.put("t5_sequence_length", (long) n));
            m.put("threads", (long) threads);
            m.put(TF_GRAPH_OPTIMIZATIONS, tfOptions().graphOptimizations());
            m.put(TF_PRUNED_GRAPH_BUILDS, tfOptions().prunedGraphBuilds());
            m.put("ort_intra_op_threads", (long) sessionConfig.intraOpThreads());
            m.put("ort_inter_op_threads", (long) sessionConfig.interOpThreads());
            m.put("recipe", recipe == null ? (config == null ? "senseflow" : "config") : recipe.id());
            m.put("workers", (long) (group == null ? 1 : group.size()));
            m.put("config", cfg.toJson());
            if (backbone != null) {
                m.put("backbone", backbone.toString());
                m.put("backbone_fingerprint", fileFingerprint(backbone));
            }
            if (real != null) {
                m.put("data", real.source().toString());
                m.put("data_sha256", real.sha256());
                m.put("data_count", (long) real.count());
            }
            if (!pluginIds.isEmpty()) {
                m.put(ResearchPlugins.RUN_JSON_FIELD, pluginIds);
            }
            if (resolvedLora != null) {
                m.put("lora", resolvedLora.toJson());
            }
            if (!runInfo.isEmpty()) {
                m.put("info", new LinkedHashMap<String, Object>(runInfo));
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
            for (Path f : new Path[] {graph, graph.resolveSibling("model.onnx_data"),
                    graph.resolveSibling(SenseFlowTeacher.WEIGHTS)}) {
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

    /** A large file's identity: its size and the SHA-256 of its first MiB. */
    static String fileFingerprint(Path f) {
        try (InputStream in = Files.newInputStream(f)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(Long.toString(Files.size(f)).getBytes(StandardCharsets.UTF_8));
            md.update(in.readNBytes(1 << 20));
            return HexFormat.of().formatHex(md.digest()).substring(0, 32);
        } catch (IOException e) {
            throw InvalidRequestException.of("file " + f, "a readable file", e.toString());
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
