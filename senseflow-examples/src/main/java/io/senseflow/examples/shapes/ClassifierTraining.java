package io.senseflow.examples.shapes;

import io.senseflow.image.Image;
import io.senseflow.onnx.ir.OnnxGraph;
import io.senseflow.onnx.ir.OnnxModel;
import io.senseflow.onnx.ir.TensorValue;
import io.senseflow.tensor.Tensor;
import io.senseflow.tf.InputBinding;
import io.senseflow.tf.TfModule;
import io.senseflow.tf.importer.ImportOptions;
import io.senseflow.train.AdamWConfig;
import io.senseflow.train.GradientMode;
import io.senseflow.train.LearningRateSchedule;
import io.senseflow.train.ModuleInputs;
import io.senseflow.train.ParameterSpec;
import io.senseflow.train.Upstream;
import java.util.ArrayList;
import java.util.List;
import java.util.function.IntConsumer;

/**
 * Trains the {@link AttributeClassifier} on rendered Shapes images (all combinations, held-out pairs included: the
 * classifier must judge them) with the TensorFlow backend, softmax cross-entropy computed in Java and fed back as
 * an explicit upstream gradient.
 */
public final class ClassifierTraining {

    /**
     * Training settings.
     *
     * @param steps optimizer steps
     * @param batch images per step
     * @param learningRate peak AdamW learning rate (warm-up then cosine)
     * @param seed data and initialisation seed
     */
    public record Settings(int steps, int batch, double learningRate, long seed) {
        public Settings {
            if (steps < 1) {
                throw io.senseflow.InvalidRequestException.of("steps", "at least 1", steps);
            }
            if (batch < 1) {
                throw io.senseflow.InvalidRequestException.of("batch", "at least 1", batch);
            }
            if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
                throw io.senseflow.InvalidRequestException.of("learning rate", "a positive finite rate", learningRate);
            }
        }
    }

    /** Result: the trained model and the loss curve. */
    public record Result(OnnxModel model, List<Double> losses) {
    }

    private ClassifierTraining() {
    }

    /**
     * @param settings settings
     * @param progress called with each finished step
     * @return the trained classifier (trained weights written into the graph's initializers)
     */
    public static Result train(Settings settings, IntConsumer progress) {
        return train(settings, (step, loss) -> progress.accept(step));
    }

    /** Receives each finished step (1-based) and its loss. */
    @FunctionalInterface
    public interface StepListener {
        /** @param step the finished step, 1-based @param loss its cross-entropy */
        void onStep(int step, double loss);
    }

    /**
     * @param settings settings
     * @param listener called with each finished step and its loss
     * @return the trained classifier (trained weights written into the graph's initializers)
     */
    public static Result train(Settings settings, StepListener listener) {
        OnnxModel model = AttributeClassifier.build(settings.seed());
        ShapesDataset data = new ShapesDataset(settings.seed(), ShapesDataset.Split.ALL);
        AdamWConfig adam = AdamWConfig.constant(settings.learningRate())
                .withLearningRate(LearningRateSchedule.cosine(settings.learningRate(), Math.min(100, settings.steps() / 10),
                        settings.steps(), settings.learningRate() / 50));
        List<Double> losses = new ArrayList<>();
        try (TfModule m = TfModule.builder(model).name("classifier")
                .input(InputBinding.of(ModuleInputs.X, AttributeClassifier.INPUT).withGradient(false))
                .output(AttributeClassifier.LOGITS)
                .importOptions(ImportOptions.builder().inputShape(AttributeClassifier.INPUT, settings.batch(), 3, 32, 32).build())
                .optimizer(adam).build()) {
            for (int step = 0; step < settings.steps(); step++) {
                Batch b = batch(data, (long) step * settings.batch(), settings.batch());
                ModuleInputs in = ModuleInputs.of(b.images(), null);
                Tensor logits = m.forward(in);
                Tensor[] ce = AttributeClassifier.crossEntropy(logits, b.labels());
                losses.add((double) ce[0].get(0));
                m.optimizer().zeroGradients();
                m.backward(in, Upstream.explicit(ce[1]), GradientMode.PARAMETERS);
                m.optimizer().clipGradientNorm(1.0);
                m.optimizer().step();
                listener.onStep(step + 1, ce[0].get(0));
            }
            OnnxGraph g = model.graph();
            for (ParameterSpec p : m.parameters().specs()) {
                long[] dims = java.util.Arrays.stream(p.shape()).asLongStream().toArray();
                g = g.withInitializer(TensorValue.ofFloats(p.name(), m.parameters().read(p.name()).toArray(), dims));
            }
            return new Result(model.withGraph(g).withMetadata("senseflow.training",
                    "steps=" + settings.steps() + " batch=" + settings.batch() + " lr=" + settings.learningRate()
                            + " seed=" + settings.seed()), losses);
        }
    }

    /**
     * Images and labels of samples {@code [first, first + n)}.
     *
     * @param images {@code [n, 3, 32, 32]}
     * @param labels per sample, the class of every head
     * @param attributes per sample
     */
    public record Batch(Tensor images, int[][] labels, List<ShapeAttributes> attributes) {
    }

    /**
     * @param data the dataset
     * @param first first sample index
     * @param n batch size
     * @return the batch
     */
    public static Batch batch(ShapesDataset data, long first, int n) {
        List<Tensor> images = new ArrayList<>(n);
        int[][] labels = new int[n][];
        List<ShapeAttributes> attrs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            ShapeAttributes a = data.attributes(first + i);
            Image img = data.image(first + i);
            images.add(img.toTensor());
            labels[i] = AttributeClassifier.labels(a);
            attrs.add(a);
        }
        return new Batch(Tensor.concatBatch(images), labels, attrs);
    }
}
