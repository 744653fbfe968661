package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.distill.TimestepSpec;
import io.senseflow.examples.shapes.Provenance;
import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.examples.shapes.ShapesTokenizer;
import io.senseflow.examples.shapes.TeacherTraining;
import io.senseflow.examples.shapes.eval.Adherence;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.examples.shapes.eval.ReconstructionMetrics;
import io.senseflow.examples.shapes.eval.ShapesEvaluation;
import io.senseflow.json.Json;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.arch.FlowTransformer;
import io.senseflow.onnx.arch.TextTransformer;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.folders.LoadedModel;
import io.senseflow.onnx.folders.Models;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.FlowMatchingConfig;
import io.senseflow.train.FlowMatchingTrainer;
import io.senseflow.train.LearningRateSchedule;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code senseflow train-teacher}: train the Shapes flow-matching teacher and write it as a SenseFlow folder. */
@Command(name = "train-teacher", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train the Shapes teacher (in-house flow transformer on the autoencoder's latents, frozen in-house "
                + "text encoder) by flow matching on the TRAIN split; held-out colour-shape pairs are never seen.",
                "Writes <out>/teacher (SenseFlow layout, loadable by generate), <out>/checkpoints (resumed when the "
                        + "command is run again with the same settings), <out>/eval-log.jsonl and provenance.json."})
final class TrainTeacherCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "run folder")
    Path out;

    @Option(names = "--autoencoder", paramLabel = "DIR",
            description = "autoencoder folder from train-autoencoder (default: the bundled autoencoder)")
    Path autoencoder;

    @Option(names = "--steps", defaultValue = "20000", description = "optimizer steps (default: ${DEFAULT-VALUE})")
    long steps;

    @Option(names = "--batch", defaultValue = "64", description = "latents per step (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--lr", defaultValue = "1e-3", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--warmup", defaultValue = "500", description = "warm-up steps (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--min-lr", defaultValue = "5e-5", description = "cosine floor (default: ${DEFAULT-VALUE})")
    double minLr;

    @Option(names = "--width", defaultValue = "128", description = "transformer width (default: ${DEFAULT-VALUE})")
    int width;

    @Option(names = "--depth", defaultValue = "4", description = "transformer blocks (default: ${DEFAULT-VALUE})")
    int depth;

    @Option(names = "--heads", defaultValue = "4", description = "attention heads (default: ${DEFAULT-VALUE})")
    int heads;

    @Option(names = "--patch", defaultValue = "2", description = "latent patch side (default: ${DEFAULT-VALUE})")
    int patch;

    @Option(names = "--mlp-ratio", defaultValue = "4", description = "MLP ratio (default: ${DEFAULT-VALUE})")
    double mlpRatio;

    @Option(names = "--text-width", defaultValue = "64", description = "text encoder width (default: ${DEFAULT-VALUE})")
    int textWidth;

    @Option(names = "--text-depth", defaultValue = "2", description = "text encoder layers (default: ${DEFAULT-VALUE})")
    int textDepth;

    @Option(names = "--text-heads", defaultValue = "2", description = "text encoder heads (default: ${DEFAULT-VALUE})")
    int textHeads;

    @Option(names = "--joint-text", description = "train the text encoder with the transformer (default: frozen random)")
    boolean jointText;

    @Option(names = "--ln-mean", defaultValue = "0", description = "logit-normal mean of the training noise levels (default: ${DEFAULT-VALUE})")
    double lnMean;

    @Option(names = "--ln-std", defaultValue = "1", description = "logit-normal std (default: ${DEFAULT-VALUE})")
    double lnStd;

    @Option(names = "--ts-shift", defaultValue = "3",
            description = "static shift applied to the training noise levels; > 1 weights high noise (default: ${DEFAULT-VALUE})")
    double tsShift;

    @Option(names = "--dropout", defaultValue = "0.1", description = "condition dropout (default: ${DEFAULT-VALUE})")
    double dropout;

    @Option(names = "--pool", defaultValue = "50000", description = "training images encoded once (default: ${DEFAULT-VALUE})")
    int pool;

    @Option(names = "--sampling-shift", defaultValue = "3", description = "the sampler's static shift (default: ${DEFAULT-VALUE})")
    double samplingShift;

    @Option(names = "--guidance", defaultValue = "3", description = "default CFG scale stored with the teacher (default: ${DEFAULT-VALUE})")
    double guidance;

    @Option(names = "--seed", defaultValue = "1", description = "seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--threads", defaultValue = "2", description = "TensorFlow threads (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--checkpoint-every", defaultValue = "1000", description = "steps between checkpoints (default: ${DEFAULT-VALUE})")
    long checkpointEvery;

    @Option(names = "--publish-every", defaultValue = "2000",
            description = "steps between writes (and quick evaluations) of <out>/teacher (default: ${DEFAULT-VALUE})")
    long publishEvery;

    @Option(names = "--eval-count", defaultValue = "256",
            description = "seen prompts per quick evaluation at each publish (half as many held-out); 0 for none (default: ${DEFAULT-VALUE})")
    int evalCount;

    @Option(names = "--eval-steps", defaultValue = "50", description = "sampling steps of the quick evaluations (default: ${DEFAULT-VALUE})")
    int evalSteps;

    @Option(names = "--classifier", paramLabel = "DIR",
            description = "classifier for the quick evaluations (default: the bundled one when present; 'none')")
    String classifier;

    @Option(names = "--quiet", description = "no progress bar; a log line every 100 steps")
    boolean quiet;

    @Override
    public Integer call() throws IOException {
        PrintWriter err = spec.commandLine().getErr();
        OnnxModel[] ae = autoencoder != null ? ShapesModels.readAutoencoder(autoencoder)
                : new OnnxModel[] {ShapesModels.encoder(), ShapesModels.decoder()};
        TeacherTraining.Settings settings = settings(Autoencoder.Config.fromMetadata(ae[1]));
        OnnxModel judgeModel = ShapesModels.classifierOption(classifier);
        Outputs.requireWritableFolder(out, "--out");
        err.printf(Locale.ROOT, "senseflow: training the Shapes teacher: %,d-parameter flow transformer (%s), %d steps at "
                + "batch %d%n", FlowTransformer.parameterCount(settings.transformer()), settings.transformer(), steps, batch);
        TrainingProgress progress = new TrainingProgress(err, "teacher", steps, 100, quiet);
        Path evalLog = out.resolve("eval-log.jsonl");
        Map<String, String> prov = new LinkedHashMap<>();
        prov.put("made_by", "senseflow train-teacher");
        prov.put("seed", Long.toString(seed));
        Map<String, Object>[] lastEval = new Map[1];
        TeacherTraining.Result r = TeacherTraining.train(settings, ae[0], ae[1], out, prov, new TeacherTraining.Listener() {
            @Override
            public void onStep(FlowMatchingTrainer.StepMetrics m) {
                progress.onStep(m.step() + 1, m.loss(), String.format(Locale.ROOT, "|g| %.2f lr %.2e", m.gradientNorm(),
                        m.learningRate()));
            }

            @Override
            public void onResume(long step) {
                err.println("senseflow: resumed from the checkpoint at step " + step);
            }

            @Override
            public void onPublish(long step, Path teacher) {
                if (evalCount <= 0) {
                    return;
                }
                lastEval[0] = quickEval(step, teacher, judgeModel);
                appendLine(evalLog, Json.write(lastEval[0]));
                err.println("senseflow: step " + step + ": " + lastEval[0]);
                err.flush();
            }
        }, CancellationToken.none());
        Provenance p = Provenance.of("shapes-teacher").command(Outputs.commandLine(spec))
                .put("config", settings.toMap())
                .put("autoencoder", autoencoder == null ? "bundled" : autoencoder.toString())
                .put("seed", seed)
                .put("iterations", r.steps())
                .put("wall_time_s", r.seconds())
                .machine();
        if (lastEval[0] != null) {
            p.put("metrics", lastEval[0]);
        }
        p.writeTo(out);
        Files.copy(out.resolve(Provenance.FILE), r.folder().resolve(Provenance.FILE),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        err.printf(Locale.ROOT, "senseflow: %d steps, %s of training; teacher in %s%n", r.steps(),
                TrainingProgress.duration(r.seconds()), r.folder());
        err.flush();
        spec.commandLine().getOut().println(r.folder());
        spec.commandLine().getOut().flush();
        return 0;
    }

    TeacherTraining.Settings settings(Autoencoder.Config ae) {
        try {
            TextTransformer.Config text = TextTransformer.Config.builder().vocab(ShapesTokenizer.vocabSize())
                    .length(ShapesTokenizer.LENGTH).width(textWidth).depth(textDepth).heads(textHeads).mlpRatio(2).build();
            FlowTransformer.Config tc = FlowTransformer.Config.builder().latentChannels(ae.latentChannels())
                    .latentSize(ae.latentHeight(), ae.latentWidth()).patchSize(patch).width(width).depth(depth).heads(heads)
                    .textWidth(textWidth).textLength(ShapesTokenizer.LENGTH).pooledWidth(textWidth).mlpRatio(mlpRatio).build();
            AdamWConfig adam = new AdamWConfig(LearningRateSchedule.cosine(lr, warmup, steps, minLr), 0.9, 0.99, 1e-8, 0,
                    1.0);
            FlowMatchingConfig flow = new FlowMatchingConfig(seed, batch, steps, new TimestepSpec.LogitNormal(lnMean, lnStd,
                    tsShift), dropout, adam);
            return new TeacherTraining.Settings(tc, text, seed + 17, jointText, flow, pool, samplingShift, guidance, threads,
                    checkpointEvery, publishEvery);
        } catch (InvalidRequestException e) {
            throw new InvalidRequestException("train-teacher options: " + e.getMessage(), e);
        }
    }

    private Map<String, Object> quickEval(long step, Path teacher, OnnxModel judgeModel) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("step", step);
        ShapesEvaluation.Settings s = new ShapesEvaluation.Settings(Math.max(2, evalCount), evalCount / 2, evalSteps, null,
                4242, 128);
        try (LoadedModel model = Models.load(teacher);
             AttributeJudge judge = judgeModel == null ? null : AttributeJudge.of(judgeModel, threads)) {
            m.put("steps", (long) evalSteps);
            m.put("guidance", model.defaults().guidanceScale());
            for (boolean held : new boolean[] {false, true}) {
                var prompts = held ? ShapesEvaluation.heldOutPrompts(s.seed(), s.heldOutCount())
                        : ShapesEvaluation.seenPrompts(s.seed(), s.seenCount());
                if (prompts.isEmpty()) {
                    continue;
                }
                long t0 = System.nanoTime();
                ShapesEvaluation.Samples samples = ShapesEvaluation.generate(model.pipeline(), prompts, s,
                        s.seed() + (held ? 1 : 0), n -> { }, CancellationToken.none());
                String key = held ? "held_out" : "seen";
                m.put(key + "_seconds", (System.nanoTime() - t0) / 1e9);
                Adherence geo = new Adherence();
                geo.add(prompts, ReconstructionMetrics.readByGeometry(samples.images()));
                m.put(key + "_geometry", geo.toMap());
                if (judge != null) {
                    Adherence a = new Adherence();
                    a.add(prompts, judge.judge(samples.images()).predictions());
                    m.put(key + "_classifier", a.toMap());
                }
                if (!held) {
                    Path grid = teacher.resolveSibling("samples-" + step + ".png");
                    io.senseflow.examples.shapes.ImageGrid.of(List.of(samples.images().sliceBatch(0, Math.min(16,
                            samples.images().batch()))), null, 3).writePng(grid);
                }
            }
        }
        return m;
    }

    private static void appendLine(Path file, String line) {
        try {
            Files.writeString(file, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("could not append to " + file, e);
        }
    }
}
