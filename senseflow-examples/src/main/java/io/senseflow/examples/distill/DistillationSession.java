package io.senseflow.examples.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DiffAugment;
import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.distill.Distiller;
import io.senseflow.model.ImageEncoder;
import io.senseflow.model.LatentFormat;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.SamplingMode;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.discriminator.Backbone;
import io.senseflow.tf.discriminator.Discriminator;
import io.senseflow.tf.discriminator.HeadSpec;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.train.DenoiserSpec;
import io.senseflow.tf.train.StudentModules;
import io.senseflow.train.ModuleGenerator;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.ParameterStore;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Everything one distillation run of a SenseFlow-layout teacher holds open: the teacher in ONNX Runtime (its text
 * encoder, autoencoder and frozen flow transformer), the generator G and fake score F derived from its graph in
 * TensorFlow, the discriminator the config asks for, and the {@link Distiller} wired to the Shapes data. Closing it
 * closes all of them, in reverse order of creation.
 *
 * <p>The discriminator: {@code fake-score-features} puts the heads on the fake score's middle block (DMD2's design, no
 * extra network, no decoder); {@code vfm} needs a vision backbone ({@link Settings#backbone()}, an ONNX ViT such as a
 * DINOv2 export) and sees decoded images through the frozen VAE decoder.
 */
public final class DistillationSession implements AutoCloseable {
    private final TeacherFolder teacher;
    private final DistillationConfig config;
    private final LoadedModel teacherModel;
    private final StudentModules students;
    private final TfModule decoder;
    private final Discriminator discriminator;
    private final Distiller distiller;
    private final LatentFormat latentFormat;
    private final List<AutoCloseable> owned;

    /**
     * How the run's engines are set up (nothing here changes the run's results but the thread count, see
     * {@code docs/training.md}: keep it the same between a run and its resume).
     *
     * @param threads intra-op threads for ONNX Runtime and TensorFlow; 0 for each engine's default
     * @param backbone an ONNX vision backbone for {@code gan.discriminator: vfm}, or null
     * @param heads the discriminator heads, or null for {@link HeadSpec#defaults()} conditioned on the pooled text
     *     embedding (projection 32)
     * @param trackEvery iterations between measurements of the {@link io.senseflow.distill.TrackingProbe} (0: none);
     *     a measurement, it changes nothing of the run
     * @param lora LoRA adapters for G and F over one frozen base ({@code StudentModules.Builder.lora}), or null for
     *     full distillation; the student is then exported in its base + adapters form
     */
    public record Settings(int threads, Path backbone, HeadSpec heads, long trackEvery,
                           io.senseflow.tf.lora.LoraConfig lora) {
        /** Iterations between tracking-probe measurements unless set otherwise. */
        public static final long DEFAULT_TRACK_EVERY = 25;

        public Settings {
            if (threads < 0) {
                throw InvalidRequestException.of("threads", "0 (engine default) or more", threads);
            }
            if (trackEvery < 0) {
                throw InvalidRequestException.of("--track-every", "0 (off) or more iterations", trackEvery);
            }
        }

        /**
         * Full distillation (no LoRA).
         *
         * @param threads intra-op threads
         * @param backbone a vision backbone, or null
         * @param heads discriminator heads, or null
         * @param trackEvery iterations between tracking-probe measurements (0: none)
         */
        public Settings(int threads, Path backbone, HeadSpec heads, long trackEvery) {
            this(threads, backbone, heads, trackEvery, null);
        }

        /** @param config LoRA settings, or null for full distillation @return a copy */
        public Settings withLora(io.senseflow.tf.lora.LoraConfig config) {
            return new Settings(threads, backbone, heads, trackEvery, config);
        }

        /**
         * @param threads intra-op threads
         * @param backbone a vision backbone, or null
         * @param heads discriminator heads, or null
         */
        public Settings(int threads, Path backbone, HeadSpec heads) {
            this(threads, backbone, heads, DEFAULT_TRACK_EVERY);
        }

        /** @return engine-default threads, no backbone, default heads, the default tracking probe */
        public static Settings defaults() {
            return new Settings(0, null, null);
        }

        /** @param n intra-op threads @return a copy */
        public Settings withThreads(int n) {
            return new Settings(n, backbone, heads, trackEvery, lora);
        }

        /** @param file an ONNX vision backbone @return a copy */
        public Settings withBackbone(Path file) {
            return new Settings(threads, file, heads, trackEvery, lora);
        }

        /** @param every iterations between tracking-probe measurements (0: none) @return a copy */
        public Settings withTrackEvery(long every) {
            return new Settings(threads, backbone, heads, every, lora);
        }
    }

    private DistillationSession(TeacherFolder teacher, DistillationConfig config, Settings settings,
                                Consumer<Distiller.Builder> plugins) {
        this.teacher = teacher;
        this.config = config;
        List<AutoCloseable> made = new ArrayList<>();
        try {
            SessionConfig ort = SessionConfig.builder().intraOpThreads(settings.threads()).build();
            this.teacherModel = add(made, Models.load(teacher.dir(), LoadOptions.builder().sessionConfig(ort).build()));
            FlowTransformer.Config tc = teacher.transformerConfig();
            Autoencoder.Config ac = teacher.autoencoderConfig();
            this.latentFormat = new LatentFormat(tc.latentChannels(), ac.downsamplingFactor(), tc.patchSize());
            ImageEncoder encoder = teacherModel.imageEncoder().orElseThrow(() -> new InvalidRequestException(
                    teacher.dir() + ": the teacher has no vae_encoder, needed to encode real images"));
            TfSessionOptions tf = settings.threads() > 0
                    ? TfSessionOptions.defaults().withIntraOpThreads(settings.threads()) : TfSessionOptions.defaults();
            int batch = config.batchSize();
            this.students = add(made, StudentModules.builder(teacher.transformer(), DenoiserSpec.inHouse())
                    .batchSize(batch).generatorOptimizer(config.generatorOptimizer())
                    .fakeScoreOptimizer(config.fakeScoreOptimizer()).ema(config.emaDecay() > 0).sessionOptions(tf)
                    .lora(settings.lora(), config.seed()).build());
            DiscriminatorKind kind = config.gan().enabled() ? config.gan().discriminator() : DiscriminatorKind.NONE;
            ShapesDiscriminator shapes = ShapesDiscriminator.forTeacher(tc, settings.heads());
            HeadSpec heads = shapes.heads();
            Discriminator d = null;
            TfModule dec = null;
            int[] latent = {tc.latentChannels(), tc.latentHeight(), tc.latentWidth()};
            if (kind == DiscriminatorKind.FAKE_SCORE_FEATURES) {
                // the same plug-in a DistillationRun takes (Builder.discriminator)
                d = add(made, (Discriminator) shapes.create(new io.senseflow.tf.run.DiscriminatorPlugin.Context(config,
                        students, latent, tc.pooledWidth())).discriminator());
            } else if (kind == DiscriminatorKind.VFM) {
                if (settings.backbone() == null) {
                    throw InvalidRequestException.of("gan.discriminator", "fake-score-features, or vfm together with a"
                            + " vision backbone (--backbone FILE.onnx, e.g. a DINOv2 export)", "vfm without a backbone");
                }
                dec = add(made, decoder(teacher.vaeDecoder(), ac, batch, students));
                Backbone backbone = Backbone.builder(OnnxModel.read(settings.backbone())).build();
                d = add(made, Discriminator.forConfig(config, backbone, null, null).orElseThrow().name("discriminator")
                        .workspace(students.workspace()).heads(heads)
                        .inputShape(batch, ac.imageChannels(), ac.imageHeight(), ac.imageWidth())
                        .conditionedLike(students.generator()).build());
            }
            this.decoder = dec;
            this.discriminator = d;
            Distiller.Builder b = Distiller.builder().config(config).teacher(teacherModel.generator())
                    .generator(students.generator()).fakeScore(students.fakeScore())
                    .dataset(new ShapesDistillationData(config.seed(), teacherModel.promptEncoder(), encoder, latent))
                    .promptEncoder(teacherModel.promptEncoder()).trackingProbe(settings.trackEvery());
            if (d != null) {
                b.discriminator(d).decoder(dec).augmentation(dec == null ? DiffAugment.geometric() : DiffAugment.standard(),
                        true);
            }
            if (students.ema() != null) {
                b.ema(students.ema().parameters());
            }
            plugins.accept(b);
            this.distiller = b.build();
            this.owned = List.copyOf(made);
        } catch (RuntimeException | Error e) {
            closeAll(made, e);
            throw e;
        }
    }

    /**
     * Loads the teacher and builds G, F, the discriminator and the distiller (G and F start as copies of the teacher).
     *
     * @param teacher the teacher folder
     * @param config the run's config
     * @param settings engines and discriminator
     * @return the session; close it
     */
    public static DistillationSession open(TeacherFolder teacher, DistillationConfig config, Settings settings) {
        return new DistillationSession(teacher, config, settings, b -> { });
    }

    /**
     * As {@link #open(TeacherFolder, DistillationConfig, Settings)}, with the researcher's plug-ins: {@code plugins}
     * sees the wired {@link Distiller.Builder} last, before it is built, and may set your own objectives
     * ({@link Distiller.Builder#objectives}) or fake-score sampler ({@link Distiller.Builder#fakeScoreTimesteps}).
     * Plug-ins are not part of the config: a resumed session must be opened with the same ones.
     *
     * @param teacher the teacher folder
     * @param config the run's config
     * @param settings engines and discriminator
     * @param plugins changes to the distiller's builder
     * @return the session; close it
     */
    public static DistillationSession open(TeacherFolder teacher, DistillationConfig config, Settings settings,
                                           Consumer<Distiller.Builder> plugins) {
        return new DistillationSession(teacher, config, settings, java.util.Objects.requireNonNull(plugins));
    }

    /** The frozen VAE decoder in front of a vision backbone, fed generator-space latents. */
    private static TfModule decoder(OnnxModel graph, Autoencoder.Config ac, int batch, StudentModules s) {
        if (ac.shiftFactor() != 0) {
            throw InvalidRequestException.of("vae_decoder shift_factor", "0 for a vfm discriminator (the decoder in"
                    + " front of it applies the scaling only)", ac.shiftFactor());
        }
        return TfModule.builder(graph).name("vae_decoder").workspace(s.workspace())
                .input(InputBinding.of(ModuleInputs.X, Autoencoder.LATENT).scaled(1 / ac.scalingFactor()))
                .output(Autoencoder.SAMPLE)
                .importOptions(ImportOptions.builder().inputShape(Autoencoder.LATENT, batch, ac.latentChannels(),
                        ac.latentHeight(), ac.latentWidth()).frozen().build())
                .build();
    }

    /** @return the distiller */
    public Distiller distiller() {
        return distiller;
    }

    /** @return the run's config */
    public DistillationConfig config() {
        return config;
    }

    /** @return the teacher folder */
    public TeacherFolder teacher() {
        return teacher;
    }

    /** @return the teacher loaded in ONNX Runtime (its pipeline samples with the teacher's own scheduler) */
    public LoadedModel teacherModel() {
        return teacherModel;
    }

    /** @return G, F (and the EMA) */
    public StudentModules students() {
        return students;
    }

    /** @return the discriminator, or null when the GAN term is off */
    public Discriminator discriminator() {
        return discriminator;
    }

    /** @return the weights the student ships with: the EMA when the run keeps one, else G's */
    public ParameterStore studentWeights() {
        return students.ema() != null ? students.ema().parameters() : students.generator().parameters();
    }

    /**
     * The in-training student as a few-step pipeline (the run's anchors, stochastic sampling, no guidance), sharing the
     * teacher's text encoder and decoder. Closing it closes nothing of the session.
     *
     * @return the pipeline
     */
    public TextToImagePipeline studentPipeline() {
        TfModule weights = students.ema() != null ? students.ema() : students.generator();
        double[] anchors = config.anchors();
        ModelDefaults td = teacherModel.defaults();
        return TextToImagePipeline.builder().modelName("student (training)").promptEncoder(teacherModel.promptEncoder())
                .generator(new ModuleGenerator(weights, latentFormat)).decoder(teacherModel.decoder())
                .scheduler(new FewStepScheduler(anchors, SamplingMode.STOCHASTIC)).guidanceMode(GuidanceMode.NONE)
                .defaults(new ModelDefaults(anchors.length, 0, td.width(), td.height())).build();
    }

    @Override
    public void close() {
        closeAll(owned, null);
    }

    private static <T extends AutoCloseable> T add(List<AutoCloseable> made, T c) {
        made.add(c);
        return c;
    }

    private static void closeAll(List<AutoCloseable> made, Throwable primary) {
        RuntimeException failure = null;
        for (int i = made.size() - 1; i >= 0; i--) {
            try {
                made.get(i).close();
            } catch (Exception e) {
                if (primary != null) {
                    primary.addSuppressed(e);
                } else if (failure == null) {
                    failure = e instanceof RuntimeException r ? r : new io.senseflow.BackendException("closing "
                            + made.get(i) + " failed", e);
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
