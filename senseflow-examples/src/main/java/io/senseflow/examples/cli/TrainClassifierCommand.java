package io.senseflow.examples.cli;

import io.senseflow.examples.shapes.ClassifierTraining;
import io.senseflow.examples.shapes.Provenance;
import io.senseflow.examples.shapes.ShapesModels;
import io.senseflow.examples.shapes.eval.AttributeJudge;
import io.senseflow.examples.shapes.eval.ClassifierAccuracy;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code senseflow train-classifier}: train the Shapes evaluation classifier (the judge of {@code eval}). */
@Command(name = "train-classifier", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train the Shapes attribute classifier on exact renders of every combination and write "
                + "model.onnx and provenance.json (accuracy on fresh renders, seen and held-out combinations).",
                "The classifier only judges (eval); it is never a training signal."})
final class TrainClassifierCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "output folder")
    Path out;

    @Option(names = "--steps", defaultValue = "6000", description = "optimizer steps (default: ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--batch", defaultValue = "64", description = "images per step (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--lr", defaultValue = "3e-3", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    double lr;

    @Option(names = "--seed", defaultValue = "1", description = "seed (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--eval-images", defaultValue = "2000",
            description = "fresh renders per split for the accuracy (default: ${DEFAULT-VALUE})")
    int evalImages;

    @Option(names = "--quiet", description = "no progress bar; a log line every 200 steps")
    boolean quiet;

    @Override
    public Integer call() {
        PrintWriter err = spec.commandLine().getErr();
        ClassifierTraining.Settings settings = new ClassifierTraining.Settings(steps, batch, lr, seed);
        Outputs.requireWritableFolder(out, "--out");
        err.printf(Locale.ROOT, "senseflow: training the Shapes attribute classifier, %d steps at batch %d%n", steps, batch);
        TrainingProgress progress = new TrainingProgress(err, "classifier", steps, 200, quiet);
        long t0 = System.nanoTime();
        double[] last = {Double.NaN};
        ClassifierTraining.Result r = ClassifierTraining.train(settings, (step, loss) -> {
            last[0] = loss;
            progress.onStep(step, loss, "");
        });
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Object> accuracy;
        try (AttributeJudge judge = AttributeJudge.of(r.model(), 0)) {
            accuracy = ClassifierAccuracy.onRenders(judge, evalImages, seed + 7919);
        }
        r.model().write(out.resolve(ShapesModels.CLASSIFIER_FILE));
        Provenance.of("shapes-attribute-classifier").command(Outputs.commandLine(spec))
                .put("config", Outputs.ordered("steps", (long) steps, "batch", (long) batch, "learning_rate", lr,
                        "schedule", "AdamW, warm-up min(100, steps/10), cosine to lr/50, clip 1.0",
                        "data", "ShapesDataset(seed, ALL): fresh renders every step"))
                .put("seed", seed)
                .put("iterations", (long) steps)
                .put("wall_time_s", seconds)
                .machine()
                .put("metrics", Outputs.ordered("final_loss_last100", mean(r.losses().subList(Math.max(0,
                        r.losses().size() - 100), r.losses().size())), "accuracy_on_renders", accuracy,
                        "eval_seed", seed + 7919))
                .writeTo(out);
        err.printf(Locale.ROOT, "senseflow: trained in %s; accuracy on renders %s%n", TrainingProgress.duration(seconds),
                accuracy);
        err.flush();
        spec.commandLine().getOut().println(out);
        spec.commandLine().getOut().flush();
        return 0;
    }

    private static double mean(List<Double> l) {
        return l.stream().mapToDouble(d -> d).average().orElse(Double.NaN);
    }
}
