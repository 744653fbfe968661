package io.senseflow.examples.shapes;

import io.senseflow.InvalidRequestException;
import io.senseflow.model.PromptEncoder;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.checkpoint.Checkpoint;
import io.senseflow.onnx.checkpoint.CheckpointStore;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.SchedulerSpec;
import io.senseflow.onnx.folders.SenseFlowFolder;
import io.senseflow.onnx.runtime.OrtRuntime;
import io.senseflow.onnx.runtime.OrtTextEncoder;
import io.senseflow.onnx.runtime.SessionConfig;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.pipeline.GuidanceMode;
import io.senseflow.pipeline.ModelDefaults;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.TfWorkspace;
import io.senseflow.train.DifferentiableModule;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.ParameterStore;
import io.senseflow.tf.TfSessionOptions;
import io.senseflow.tf.export.OnnxExport;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.tf.train.DenoiserSpec;
import io.senseflow.train.FlowMatchingConfig;
import io.senseflow.train.FlowMatchingTrainer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Trains the Shapes teacher: the in-house {@link FlowTransformer} by flow matching ({@link FlowMatchingTrainer}) on
 * the latents of the TRAIN split (held-out colour-shape pairs are never seen), conditioned on a frozen, randomly
 * initialised in-house {@link TextTransformer} over the {@link ShapesTokenizer} vocabulary. The caption vocabulary is
 * closed, so every caption's embedding is computed once ({@link CaptionEmbeddings}); condition dropout uses the empty
 * prompt's embedding, so the teacher supports classifier-free guidance.
 *
 * <p>Checkpoints go to {@code <out>/checkpoints} (the latest two kept); a run started again with the same settings
 * resumes from the latest one bit for bit. Every {@code publishEvery} steps (and at the end) the current teacher is
 * written as a SenseFlow folder to {@code <out>/teacher}.
 */
public final class TeacherTraining {

    /**
     * Everything a run depends on.
     *
     * @param transformer the flow transformer's architecture
     * @param text the text encoder's architecture
     * @param textSeed the text encoder's initialisation seed
     * @param jointText train the text encoder together with the transformer ({@link JointTextModule}, same AdamW
     *     settings) instead of keeping its random initialisation frozen
     * @param flow the flow-matching settings (seed, batch, steps, noise levels, condition dropout, AdamW)
     * @param poolSize training images rendered and encoded once
     * @param samplingShift the static shift of the teacher's Euler sampler
     * @param guidance the teacher's default CFG scale
     * @param threads TensorFlow intra-op threads
     * @param checkpointEvery steps between checkpoints
     * @param publishEvery steps between writes of the current teacher folder (and the listener's publish event)
     */
    public record Settings(FlowTransformer.Config transformer, TextTransformer.Config text, long textSeed, boolean jointText,
                           FlowMatchingConfig flow, int poolSize, double samplingShift, double guidance, int threads,
                           long checkpointEvery, long publishEvery) {
        public Settings {
            if (poolSize < flow.batchSize()) {
                throw InvalidRequestException.of("pool size", "at least the batch size " + flow.batchSize(), poolSize);
            }
            if (transformer.textWidth() != text.width() || transformer.pooledWidth() != text.width()
                    || transformer.textLength() != text.length()) {
                throw InvalidRequestException.of("transformer text width/length", "the text encoder's width " + text.width()
                        + " and length " + text.length(), transformer.textWidth() + "/" + transformer.textLength());
            }
            if (checkpointEvery < 1 || publishEvery < 1) {
                throw InvalidRequestException.of("checkpoint/publish interval", "at least 1", checkpointEvery + "/" + publishEvery);
            }
            if (!(samplingShift > 0) || !(guidance >= 0)) {
                throw InvalidRequestException.of("sampling shift/guidance", "shift > 0, guidance >= 0",
                        samplingShift + "/" + guidance);
            }
        }

        /** @return JSON-ready settings (provenance) */
        public Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("transformer", transformer.toJson());
            m.put("transformer_parameters", FlowTransformer.parameterCount(transformer));
            m.put("text_encoder", text.toJson());
            m.put("text_encoder_seed", textSeed);
            m.put("text_encoder_training", jointText ? "joint (gradient from the transformer's text inputs)"
                    : "frozen (random initialisation)");
            m.put("flow_matching", io.senseflow.json.Json.parse(flow.toJson()));
            m.put("pool_size", (long) poolSize);
            m.put("sampling_shift", samplingShift);
            m.put("guidance", guidance);
            m.put("threads", (long) threads);
            return m;
        }
    }

    /** What the listener hears. */
    public interface Listener {
        /** @param m a step's metrics */
        void onStep(FlowMatchingTrainer.StepMetrics m);

        /** @param step steps done @param teacher the folder just written */
        default void onPublish(long step, Path teacher) {
        }

        /** @param step the step resumed from */
        default void onResume(long step) {
        }
    }

    /**
     * @param folder the teacher folder
     * @param steps steps trained
     * @param seconds training wall time (summed over resumed runs)
     */
    public record Result(Path folder, long steps, double seconds) {
    }

    /** The checkpoint metadata key for the summed training wall time. */
    static final String SECONDS_KEY = "train_seconds";

    private TeacherTraining() {
    }

    /** @param text the text encoder's architecture @param seed its seed @return the frozen text encoder graph */
    public static OnnxModel textEncoder(TextTransformer.Config text, long seed) {
        return TextTransformer.build(text, seed);
    }

    /**
     * @param s settings
     * @param encoder the autoencoder's encoder graph
     * @param decoder the autoencoder's decoder graph
     * @param out the run folder ({@code checkpoints/}, {@code teacher/})
     * @param provenance extra provenance for the teacher's {@code model_index.json}
     * @param listener progress
     * @param cancellation checked before every step; a cancelled run leaves its latest checkpoint
     * @return the result
     */
    public static Result train(Settings s, OnnxModel encoder, OnnxModel decoder, Path out, Map<String, String> provenance,
                               Listener listener, CancellationToken cancellation) {
        Autoencoder.Config ae = Autoencoder.Config.fromMetadata(decoder);
        FlowTransformer.Config tc = s.transformer();
        if (ae.latentChannels() != tc.latentChannels() || ae.latentHeight() != tc.latentHeight()
                || ae.latentWidth() != tc.latentWidth()) {
            throw InvalidRequestException.of("autoencoder", "latents " + tc.latentChannels() + " x " + tc.latentHeight()
                    + " x " + tc.latentWidth() + " (the transformer's)", ae.latentChannels() + " x " + ae.latentHeight()
                    + " x " + ae.latentWidth());
        }
        OnnxModel text = textEncoder(s.text(), s.textSeed());
        OnnxModel graph = FlowTransformer.build(tc, s.flow().seed());
        ShapesLatentDataset data;
        try (ShapesCodec codec = ShapesCodec.of(encoder, null, s.threads());
             OrtRuntime ort = OrtRuntime.create(SessionConfig.builder().intraOpThreads(s.threads()).build());
             PromptEncoder prompts = s.jointText() ? JointTextModule.idsEncoder() : promptEncoder(ort, text)) {
            CaptionEmbeddings captions = CaptionEmbeddings.compute(prompts);
            data = ShapesLatentDataset.encode(new ShapesDataset(s.flow().seed(), ShapesDataset.Split.TRAIN), s.poolSize(),
                    codec, captions, s.flow().seed());
        }
        CheckpointStore store = CheckpointStore.builder(out.resolve("checkpoints")).keepLast(2).build();
        Path teacherDir = out.resolve("teacher");
        int batch = s.flow().batchSize();
        try (TfWorkspace ws = TfWorkspace.create(TfSessionOptions.defaults().withIntraOpThreads(s.threads()));
             DifferentiableModule model = module(s, graph, text, ws)) {
            double[] seconds = {0};
            long[] since = {System.nanoTime()};
            FlowMatchingTrainer trainer = FlowMatchingTrainer.builder().config(s.flow()).model(model).dataset(data)
                    .listener(listener::onStep).build();
            Optional<Checkpoint> latest = store.loadLatest();
            if (latest.isPresent()) {
                latest.get().restore(trainer);
                seconds[0] = Double.parseDouble(latest.get().manifest().metadata().getOrDefault(SECONDS_KEY, "0"));
                listener.onResume(trainer.step());
            }
            while (trainer.step() < s.flow().steps()) {
                long next = Math.min(s.flow().steps(), Math.min(nextMultiple(trainer.step(), s.checkpointEvery()),
                        nextMultiple(trainer.step(), s.publishEvery())));
                trainer.runUntil(next, cancellation);
                seconds[0] += (System.nanoTime() - since[0]) / 1e9;
                since[0] = System.nanoTime();
                boolean end = trainer.step() == s.flow().steps();
                if (trainer.step() % s.checkpointEvery() == 0 || end) {
                    store.save(trainer.snapshot(), Map.of(), Map.of(SECONDS_KEY, Double.toString(seconds[0])));
                }
                if (trainer.step() % s.publishEvery() == 0 || end) {
                    Map<String, String> p = new LinkedHashMap<>(provenance);
                    p.put("steps", Long.toString(trainer.step()));
                    p.put("train_seconds", String.format(java.util.Locale.ROOT, "%.1f", seconds[0]));
                    OnnxModel trainedText = model instanceof JointTextModule j
                            ? OnnxExport.of(text, j.textParameters()).model() : text;
                    ParameterStore tp = model instanceof JointTextModule j ? j.transformerParameters() : model.parameters();
                    writeTeacher(teacherDir, OnnxExport.of(graph, tp).model(), trainedText, encoder, decoder,
                            s.samplingShift(), s.guidance(), p);
                    listener.onPublish(trainer.step(), teacherDir);
                    since[0] = System.nanoTime(); // publishing is not training time
                }
            }
            return new Result(teacherDir, trainer.step(), seconds[0]);
        }
    }

    /** The trainable model: the transformer alone, or text encoder + transformer ({@link JointTextModule}). */
    private static DifferentiableModule module(Settings s, OnnxModel graph, OnnxModel text, TfWorkspace ws) {
        int batch = s.flow().batchSize();
        TfModule transformer = DenoiserSpec.inHouse().applyTo(TfModule.builder(graph).name("teacher").workspace(ws)
                .importOptions(DenoiserSpec.batchShapes(graph, batch, ImportOptions.defaults()))
                .optimizer(s.flow().optimizer())).build();
        if (!s.jointText()) {
            return transformer;
        }
        try {
            int len = s.text().length();
            TfModule enc = TfModule.builder(text).name("text_encoder").workspace(ws)
                    .input(InputBinding.of(ModuleInputs.X, TextTransformer.INPUT_IDS).withGradient(false))
                    .input(InputBinding.of(ModuleInputs.MASK, TextTransformer.ATTENTION_MASK).withGradient(false))
                    .output(TextTransformer.LAST_HIDDEN_STATE)
                    .importOptions(ImportOptions.builder().inputShape(TextTransformer.INPUT_IDS, batch, len)
                            .inputShape(TextTransformer.ATTENTION_MASK, batch, len).build())
                    .optimizer(s.flow().optimizer()).build();
            return new JointTextModule(enc, transformer);
        } catch (RuntimeException e) {
            transformer.close();
            throw e;
        }
    }

    private static long nextMultiple(long step, long every) {
        return (step / every + 1) * every;
    }

    /**
     * @param ort the runtime that owns the session
     * @param text the text encoder graph
     * @return the Shapes prompt encoder: plain-Java tokenization, the text encoder in ONNX Runtime
     */
    public static PromptEncoder promptEncoder(OrtRuntime ort, OnnxModel text) {
        OrtTextEncoder enc = OrtTextEncoder.builder(ort.load(text, "text_encoder", ort.defaultConfig()))
                .pooledOutput(TextTransformer.POOLER_OUTPUT).includeMask(false).build();
        return PromptEncoder.of(ShapesTokenizer.tokenizer(), enc);
    }

    /**
     * Writes a teacher in the SDK's own layout.
     *
     * @param dir the folder (replaced atomically when it holds a SenseFlow folder)
     * @param transformer the trained transformer graph
     * @param text the text encoder graph
     * @param encoder the autoencoder's encoder
     * @param decoder the autoencoder's decoder
     * @param shift the Euler sampler's static shift
     * @param guidance the default CFG scale
     * @param provenance provenance fields for {@code model_index.json}
     * @return {@code dir}
     */
    public static Path writeTeacher(Path dir, OnnxModel transformer, OnnxModel text, OnnxModel encoder, OnnxModel decoder,
                                    double shift, double guidance, Map<String, String> provenance) {
        Autoencoder.Config ae = Autoencoder.Config.fromMetadata(decoder);
        SenseFlowFolder.Builder b = SenseFlowFolder.builder().name("shapes-teacher").transformer(transformer)
                .textEncoder(text).vaeDecoder(decoder).vaeEncoder(encoder)
                .tokenizer(ShapesTokenizer.json(), ShapesTokenizer.PAD)
                .scheduler(SchedulerSpec.flowMatchEuler(shift)).guidance(GuidanceMode.CFG)
                .defaults(new ModelDefaults(50, guidance, ae.imageWidth(), ae.imageHeight()));
        provenance.forEach(b::provenance);
        return b.build().write(dir);
    }
}
