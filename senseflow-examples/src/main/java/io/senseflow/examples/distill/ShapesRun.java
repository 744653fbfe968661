package io.senseflow.examples.distill;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.DiscriminatorKind;
import io.senseflow.distill.DistillationConfig;
import io.senseflow.json.Json;
import io.senseflow.json.JsonObject;
import io.senseflow.onnx.folders.LoadOptions;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import io.senseflow.pipeline.TextToImagePipeline;
import io.senseflow.schedule.FewStepScheduler;
import io.senseflow.schedule.SamplingMode;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.discriminator.HeadSpec;
import io.senseflow.tf.run.DistillationRun;
import io.senseflow.tf.train.StudentModules;
import io.senseflow.train.ModuleGenerator;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * The Shapes task on the distillation front door: a {@link DistillationRun.Builder} for a Shapes teacher (the SDK's
 * own layout) with the Shapes plug-ins set, the one wiring that {@code senseflow distill} (without {@code --prompts}),
 * {@code senseflow quickstart}, {@code senseflow ablation} ({@link DistillRun}) and the research scripts share:
 *
 * <ul>
 *   <li>data: {@link ShapesDistillationData.Plugin}, the training split's images and captions (the images encoded by
 *       the teacher's autoencoder are the GAN's real side and the forward-noised generator inputs);</li>
 *   <li>discriminator: {@link ShapesDiscriminator} (heads on the fake score's middle block) for
 *       {@code fake-score-features}; for {@code vfm}, the front door's own VFM discriminator on
 *       {@link Settings#backbone()} ({@link DistillationRun.Builder#backbone});</li>
 *   <li>engines: {@link Settings#threads()} for ONNX Runtime and TensorFlow, TensorFlow's Grappler left on (the
 *       Shapes runs' numbers and bundled student were made so), the tracking probe every
 *       {@link Settings#trackEvery()} iterations;</li>
 *   <li>{@code run.json} records {@code info.path: shapes}, which {@link #isShapesRun} recognises.</li>
 * </ul>
 *
 * <p>The caller adds what is its own: checkpoints' period, listeners, hooks, run files, an exporter, research
 * plug-ins ({@link DistillationRun.Builder#objectives}, {@link DistillationRun.Builder#fakeScoreTimesteps}).
 */
public final class ShapesRun {
    /** {@code run.json}'s {@code info.path} of a Shapes run. */
    public static final String PATH = "shapes";

    private ShapesRun() {
    }

    /**
     * How a Shapes run's engines and discriminator are set up (nothing here changes the run's results but the thread
     * count, see {@code docs/training.md}: keep it the same between a run and its resume).
     *
     * @param threads intra-op threads for ONNX Runtime and TensorFlow; 0 for each engine's default
     * @param backbone an ONNX vision backbone for {@code gan.discriminator: vfm}, or null
     * @param heads the {@code fake-score-features} discriminator's heads, or null for {@link HeadSpec#defaults()}
     *     conditioned on the pooled text embedding (projection {@value ShapesDiscriminator#PROJECTION})
     * @param trackEvery iterations between measurements of the {@link io.senseflow.distill.TrackingProbe} (0: none);
     *     a measurement, it changes nothing of the run
     * @param lora LoRA adapters for G and F over one frozen base, or null for full distillation
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

        /** @param config LoRA settings, or null for full distillation @return a copy */
        public Settings withLora(io.senseflow.tf.lora.LoraConfig config) {
            return new Settings(threads, backbone, heads, trackEvery, config);
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

    /**
     * A front-door builder of a Shapes run into {@code folder}, with the Shapes data, discriminator, engines and
     * tracking probe set (new runs; call {@link DistillationRun.Builder#resume} to continue one).
     *
     * @param teacher the Shapes teacher
     * @param config the run's config
     * @param settings engines and discriminator
     * @param folder the run folder
     * @return the builder
     * @throws InvalidRequestException if a {@code vfm} config has no backbone, or a backbone is given for another
     *     discriminator
     */
    public static DistillationRun.Builder builder(TeacherFolder teacher, DistillationConfig config, Settings settings,
                                                  Path folder) {
        DiscriminatorKind kind = requireBackboneFits(config, settings);
        TfSessionOptions tf = settings.threads() > 0
                ? TfSessionOptions.defaults().withIntraOpThreads(settings.threads()) : TfSessionOptions.defaults();
        DistillationRun.Builder b = DistillationRun.builder(teacher.dir()).folder(folder).config(config)
                .loadOptions(LoadOptions.builder().sessionConfig(SessionConfig.builder()
                        .intraOpThreads(settings.threads()).build()).build())
                .threads(settings.threads()).sessionOptions(tf).trackingProbe(settings.trackEvery())
                .data(new ShapesDistillationData.Plugin(config.seed())).runInfo("path", PATH);
        if (kind == DiscriminatorKind.FAKE_SCORE_FEATURES) {
            b.discriminator(ShapesDiscriminator.forTeacher(teacher.transformerConfig(), settings.heads()));
        } else if (kind == DiscriminatorKind.VFM) {
            // the front door's VFM discriminator: heads on the frozen backbone behind the teacher's VAE decoder in
            // TensorFlow (scaling and shift undone), fed the Shapes batches' real latents on its real side
            b.backbone(settings.backbone());
        }
        if (settings.lora() != null) {
            b.lora(settings.lora());
        }
        return b;
    }

    /**
     * Checks that a backbone is given exactly when the config's GAN term uses the {@code vfm} discriminator.
     *
     * @param config the run's config
     * @param settings the settings
     * @return the discriminator kind ({@code NONE} without a GAN term)
     * @throws InvalidRequestException naming {@code gan.discriminator} or {@code --backbone}
     */
    public static DiscriminatorKind requireBackboneFits(DistillationConfig config, Settings settings) {
        DiscriminatorKind kind = config.gan().enabled() ? config.gan().discriminator() : DiscriminatorKind.NONE;
        if (kind == DiscriminatorKind.VFM && settings.backbone() == null) {
            throw InvalidRequestException.of("gan.discriminator", "fake-score-features, or vfm together with a vision"
                    + " backbone (--backbone FILE.onnx, e.g. a DINOv2 export)", "vfm without a backbone");
        }
        if (kind != DiscriminatorKind.VFM && settings.backbone() != null) {
            throw InvalidRequestException.of("--backbone " + settings.backbone(), "no backbone (the config's"
                    + " discriminator is " + kind.id() + "; a backbone serves gan.discriminator: vfm)", "a backbone");
        }
        return kind;
    }

    /**
     * The in-training student of a Shapes run as a few-step pipeline (the run's anchors, stochastic sampling, no
     * guidance; the EMA's weights when the config keeps one), sharing the teacher's text encoder and decoder. Closing
     * it closes nothing of the run.
     *
     * @param run the run
     * @return the pipeline
     */
    public static TextToImagePipeline studentPipeline(DistillationRun run) {
        StudentModules s = run.modules();
        TfModule weights = s.ema() != null ? s.ema() : s.generator();
        LoadedModel teacher = run.teacherModel();
        double[] anchors = run.config().anchors();
        ModelDefaults td = teacher.defaults();
        return TextToImagePipeline.builder().modelName("student (training)").promptEncoder(teacher.promptEncoder())
                .generator(new ModuleGenerator(weights, teacher.latentFormat())).decoder(teacher.decoder())
                .scheduler(new FewStepScheduler(anchors, SamplingMode.STOCHASTIC)).guidanceMode(GuidanceMode.NONE)
                .defaults(new ModelDefaults(anchors.length, 0, td.width(), td.height())).build();
    }

    /**
     * @param folder a folder
     * @return whether it holds the {@code run.json} of a Shapes run ({@link #builder}'s)
     */
    public static boolean isShapesRun(Path folder) {
        return info(folder).map(i -> PATH.equals(i.get("path"))).orElse(false);
    }

    /**
     * @param folder a Shapes run's folder
     * @return the teacher folder its {@code run.json} records, if it is a front-door run
     */
    public static Optional<Path> recordedTeacher(Path folder) {
        return runJson(folder).map(o -> o.getString("teacher", "")).filter(t -> !t.isEmpty()).map(Path::of);
    }

    private static Optional<Map<String, Object>> info(Path folder) {
        return runJson(folder).filter(o -> o.has("info")).map(o -> o.getObject("info").asMap());
    }

    private static Optional<JsonObject> runJson(Path folder) {
        if (!DistillationRun.isRun(folder)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Json.parseObject(Files.readString(folder.resolve(DistillationRun.RUN_JSON))));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
