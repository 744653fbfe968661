package io.senseflow.examples.cli;

import io.senseflow.InvalidRequestException;
import io.senseflow.examples.shapes.AttributeClassifier;
import io.senseflow.examples.shapes.AutoencoderTraining;
import io.senseflow.examples.shapes.ClassifierTraining;
import io.senseflow.examples.shapes.ImageGrid;
import io.senseflow.examples.shapes.Provenance;
import io.senseflow.examples.shapes.ShapesCodec;
import io.senseflow.examples.shapes.ShapesDataset;
import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.examples.shapes.eval.ReconstructionMetrics;
import io.senseflow.onnx.arch.Autoencoder;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.pipeline.CancellationToken;
import io.senseflow.tensor.Tensor;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code senseflow train-autoencoder}: train the Shapes autoencoder and write its encoder and decoder graphs. */
@Command(name = "train-autoencoder", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train the Shapes autoencoder (32x32 RGB images <-> a small latent grid) on the TRAIN split and "
                + "write vae_encoder/model.onnx, vae_decoder/model.onnx, provenance.json and reconstructions.png.",
                "Reports PSNR and, with an evaluation classifier, its accuracy on the reconstructions."})
final class TrainAutoencoderCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder")
    Path out;

    @Option(names = "--steps", defaultValue = "3000", description = "optimizer steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--batch", defaultValue = "32", description = "images per step (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--lr", defaultValue = "2e-3", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--channels", defaultValue = "32,64,64", split = ",",
            description = "feature channels per level; n levels downsample by 2^(n-1) (default: ${DEFAULT-VALUE})")
    List<Integer> channels;

    @Option(names = "--latent-channels", defaultValue = "4", description = "latent channels (default: ${DEFAULT-VALUE})")
    int latentChannels;

    @Option(names = "--groups", defaultValue = "8", description = "GroupNorm groups (default: ${DEFAULT-VALUE})")
    int groups;

    @Option(names = "--latent-noise", defaultValue = "0.1",
            description = "noise added to latents before decoding (default: ${DEFAULT-VALUE})")
    double latentNoise;

    @Option(names = "--latent-penalty", defaultValue = "0.01",
            description = "weight of mean(z^2) in the loss (default: ${DEFAULT-VALUE})")
    double latentPenalty;

    @Option(names = "--object-weight", defaultValue = "0",
            description = "extra loss weight on the shape's pixels (0: plain MSE) (default: ${DEFAULT-VALUE})")
    double objectWeight;

    @Option(names = "--seed", defaultValue = "1", description = "seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--threads", defaultValue = "2", description = "TensorFlow threads (default: ${DEFAULT-VALUE})")
    int threads;

    @Option(names = "--classifier", paramLabel = "DIR",
            description = "evaluation classifier folder for accuracy on reconstructions (default: the bundled one when "
                    + "present; 'none' for no classifier)")
    String classifier;

    @Option(names = "--eval-images", defaultValue = "512", description = "images per split for the metrics (default: ${DEFAULT-VALUE})")
    int evalImages;

    @Option(names = "--quiet", description = "no progress bar; a log line every 100 steps")
    boolean quiet;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        PrintWriter stdout = spec.commandLine().getOut();
        Autoencoder.Config arch;
        try {
            arch = Autoencoder.Config.builder().latentChannels(latentChannels).channels(channels.toArray(Integer[]::new))
                    .groups(groups).build();
        } catch (InvalidRequestException e) {
            throw new InvalidRequestException("--channels/--latent-channels/--groups: " + e.getMessage(), e);
        }
        AutoencoderTraining.Settings settings = new AutoencoderTraining.Settings(arch, steps, batch, lr, latentNoise,
                latentPenalty, objectWeight, seed, threads);
        OnnxModel judgeModel = ShapesModels.classifierOption(classifier);
        Outputs.requireWritableFolder(out, "--out");
        err.printf(Locale.ROOT, "senseflow: training the Shapes autoencoder: %s, %,d + %,d parameters, %d steps at batch %d%n",
                arch, Autoencoder.parameterCount(arch, Autoencoder.Part.ENCODER),
                Autoencoder.parameterCount(arch, Autoencoder.Part.DECODER), steps, batch);
        TrainingProgress progress = new TrainingProgress(err, "autoencoder", steps, 100, quiet);
        AutoencoderTraining.Result r = AutoencoderTraining.train(settings,
                m -> progress.onStep(m.step() + 1, m.reconstruction(),
                        String.format(Locale.ROOT, "z^2 %.3f", m.latentMeanSquare())), CancellationToken.none());
        Map<String, Object> metrics;
        Path written;
        try (ShapesCodec codec = ShapesCodec.of(r.encoder(), r.decoder(), threads);
             AttributeJudge judge = judgeModel == null ? null : AttributeJudge.of(judgeModel, threads)) {
            metrics = ReconstructionMetrics.measure(codec, judge, evalImages, seed + 1000);
            written = ShapesModels.writeAutoencoder(out, r.encoder(), r.decoder());
            ClassifierTraining.Batch b = ClassifierTraining.batch(new ShapesDataset(seed + 2000, ShapesDataset.Split.ALL), 0, 16);
            Tensor recon = codec.decode(codec.encode(b.images()));
            ImageGrid.of(List.of(b.images(), recon), List.of("original", "decoded"), 3).writePng(out.resolve("reconstructions.png"));
        }
        double lastLoss = r.losses().subList(Math.max(0, r.losses().size() - 100), r.losses().size()).stream()
                .mapToDouble(d -> d).average().orElse(Double.NaN);
        Provenance.of("shapes-autoencoder").command(Outputs.commandLine(spec))
                .put("config", settings.toMap())
                .put("final_config", r.config().toJson())
                .put("seed", seed)
                .put("iterations", (long) steps)
                .put("wall_time_s", r.seconds())
                .machine()
                .put("metrics", Outputs.ordered("final_reconstruction_mse_last100", lastLoss, "reconstruction", metrics))
                .put("classifier", judgeModel == null ? "none" : judgeModel.metadata().getOrDefault("senseflow.training", "?"))
                .writeTo(out);
        err.printf(Locale.ROOT, "senseflow: trained in %s; scaling %.6f shift %.6f; %s%n",
                TrainingProgress.duration(r.seconds()), r.config().scalingFactor(), r.config().shiftFactor(), metrics);
        err.flush();
        stdout.println(written);
        stdout.flush();
        return 0;
    }
}
